# MP3D FPN of configs/deeplesion/mp3d63_9slice.py shrunk for the synthetic tree, from scratch (no COCO pretraining):
# P3D ResNet-18 variant (GN), GTM on 4 levels + a 64-channel FPN, 9 slices 2.5 mm apart, 128 px, boxes only; the A3D
# demo's window, augmentation and 12 epochs. The 3DCE and Swin demos put their backbones on these heads and data.
_base_ = '../deeplesion/mp3d63_9slice.py'

data_root = 'data/synthetic/demo_200p_128px'
synthetic = dict(num_patients=200, seed=0, image_size=128)  # tools/train.py makes the tree if missing
window = (-175, 275)
img_scale = (128, 128)

model = dict(
    data_preprocessor=dict(mean=[50.], std=[50.]),
    backbone=dict(depth=18, base_channels=32),
    neck=dict(neck=dict(in_channels=[128, 256, 512, 1024], out_channels=64, num_outs=4)),
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

# the A3D demo's augmentation (horizontal flip, shift/scale/rotate with p = 0.5), batches of 4 read in the main
# process; no validation (the demo trains, then tests once)
train_pipeline = [
    _base_.load_slices,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.5,
         border_value=_base_.out_range[0]),
    dict(type='PackCTInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, batch_sampler=None,
                        dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = val_evaluator = val_cfg = None
test_evaluator = dict(compute_map=False)

# 12 epochs of SGD lr 0.01 for the batch of 4 in float32, warm-up 100 iterations from 0.01x, one step at epoch 9
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [dict(_base_.param_scheduler[0], start_factor=0.01, end=100),
                   dict(_base_.param_scheduler[1], end=max_epochs, milestones=[9])]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=0.01))
auto_scale_lr = dict(base_batch_size=4)

# log every 10 iterations, one checkpoint at the end, no drawing, from scratch, seed 0
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1),
    visualization=dict(draw=False))
load_from = None
log_processor = dict(window_size=10)
randomness = dict(seed=0)
