# MP3D FPN shrunk for the synthetic tree: P3D ResNet-18 variant (GN), GTM on 4 levels + a 64-channel FPN, 9 slices
# 2.5 mm apart, 128 px, boxes only; the A3D demo's window, augmentation and 12 epochs. Trains from scratch.
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/datasets/deeplesion_synthetic.py',
    '../_base_/schedules/schedule_demo_12e.py', '../_base_/demo_runtime.py'
]

num_slices = 9
input_slice_interval = 2.5

model = dict(
    data_preprocessor=dict(mean=[50.], std=[50.]),
    backbone=dict(depth=18, base_channels=32),
    neck=dict(
        reduction=dict(num_slices=num_slices),
        neck=dict(in_channels=[128, 256, 512, 1024], out_channels=64, num_outs=4)),
    rpn_head=dict(
        in_channels=64, feat_channels=64,
        anchor_generator=dict(scales=[3], strides=[4, 8, 16, 32])),  # 12-96 px
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(in_channels=64, fc_out_channels=256)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rpn=dict(sampler=dict(num=64)),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))

load_slices = dict(_base_.load_slices, num_slices=num_slices, input_slice_interval=input_slice_interval)
train_pipeline = [load_slices, *_base_.train_pipeline[1:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
