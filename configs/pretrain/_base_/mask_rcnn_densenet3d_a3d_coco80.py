# The A3D Mask R-CNN (DenseNet3D + A3D convolutions, D x 1 x 1 reduction, top-down fusion) for COCO as
# pseudo-3D: 3 slices (R, G, B), 80 classes, one mean/std for all slices (the averages of the ImageNet RGB
# statistics), COCO's test-time thresholds.
_base_ = '../../_base_/models/mask_rcnn_densenet3d_a3d.py'

num_slices = 3  # R, G, B
num_classes = 80
pixel_mean, pixel_std = 114.495, 57.63

model = dict(
    data_preprocessor=dict(mean=[pixel_mean], std=[pixel_std]),
    roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)),
    test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=100)))
