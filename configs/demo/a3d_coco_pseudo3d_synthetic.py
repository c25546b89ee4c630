# Demo of COCO-as-pseudo-3D pretraining on a CPU: the A3D demo detector (configs/demo/a3d_7slice_synthetic.py, same
# sizes, so its weights transfer) with 3 slices (R, G, B) and 80 classes, on the small synthetic COCO-format set of
#   python tools/make_synthetic_coco.py --out data/synthetic/coco_shapes_128px --num-train 64 --num-val 16 \
#       --image-size 128
# Chain: this config -> tools/transfer_weights.py (3 -> 7 slices, 80 -> 1 class) -> a3d_7slice_finetune_synthetic.py
# Trains from scratch, with the A3D demo's L1 box losses and allowed_border=-1.
_base_ = ['../pretrain/_base_/mask_rcnn_densenet3d_a3d_coco80.py', '../pretrain/_base_/coco_pseudo3d_synthetic_demo.py']

model = dict(
    backbone=dict(block_config=(2, 3, 4), growth_rate=16, bn_size=4, num_init_features=32, init_cfg=None),
    neck=dict(neck=dict(in_channels=[64, 80, 104], out_channels=128)),
    rpn_head=dict(in_channels=128, feat_channels=128, anchor_generator=dict(scales=[2, 3, 4, 6, 8]),
                  loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=256,
                       loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(out_channels=128),
        mask_head=dict(in_channels=128, num_convs=2, conv_out_channels=64)),
    train_cfg=dict(rpn=dict(allowed_border=-1), rpn_proposal=dict(nms_pre=1000, max_per_img=300)),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))
