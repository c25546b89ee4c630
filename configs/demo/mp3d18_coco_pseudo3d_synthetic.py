# Demo of MP3D's COCO-as-pseudo-3D pretraining on a CPU: the MP3D design (GTM, FPN, Mask R-CNN, 80 classes,
# 3 slices = R, G, B) at depth 18 and half width, from scratch, on the synthetic set of `python
# tools/make_synthetic_coco.py --out data/synthetic/coco_shapes_128px --num-train 64 --num-val 16 --image-size 128`.
_base_ = ['../pretrain/_base_/mask_rcnn_mp3d63_gtm_fpn_coco80.py', '../pretrain/_base_/coco_pseudo3d_synthetic_demo.py']

model = dict(
    backbone=dict(depth=18, base_channels=32),
    neck=dict(neck=dict(in_channels=[128, 256, 512, 1024], out_channels=128)),
    rpn_head=dict(in_channels=128, feat_channels=128, anchor_generator=dict(scales=[2, 4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128, roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(in_channels=128, fc_out_channels=256),
        mask_roi_extractor=dict(out_channels=128, roi_layer=dict(sampling_ratio=2)),
        mask_head=dict(in_channels=128, num_convs=2, conv_out_channels=64)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300)),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))
