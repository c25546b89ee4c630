# MP3D FPN (MP3D-63 backbone with GN 32, GTM 3D->2D on every level, FPN 256) with a Mask R-CNN mask head for COCO
# as pseudo-3D: 3 slices (R, G, B), 80 classes, one mean/std for all slices (the averages of the ImageNet RGB
# statistics), COCO's test-time thresholds.
_base_ = '../../_base_/models/faster_rcnn_mp3d63_fpn.py'

num_slices = 3  # R, G, B
num_classes = 80
pixel_mean, pixel_std = 114.495, 57.63

model = dict(
    data_preprocessor=dict(mean=[pixel_mean], std=[pixel_std], pad_mask=True),
    roi_head=dict(
        bbox_head=dict(num_classes=num_classes),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=num_classes,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(mask_size=28)),
    test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=100, mask_thr_binary=0.5)))
