# The demo (`make demo`): the A3D detector of configs/deeplesion/a3d_7slice.py shrunk to train from scratch in minutes
# on a CPU, on the synthetic tree with thickness-scaled noise (ellipse masks from the RECIST axes). L1 box losses
# and allowed_border=-1 (the demo's numbers in docs/benchmarks.md use them).
_base_ = '../deeplesion/a3d_7slice.py'

data_root = 'data/synthetic/demo_200p_128px_thinnoise'
# tools/train.py makes the tree if missing (python tools/make_synthetic_deeplesion.py with these settings)
synthetic = dict(num_patients=200, seed=0, image_size=128, noise_hu=8.0, noise_ref_mm=5.0, contrast_scale=0.7)
window = (-175, 275)  # soft-tissue window: the synthetic lesions and distractors sit in soft tissue
img_scale = (128, 128)
ellipse_masks = True  # DL_info.csv has no masks: ellipses fitted to the RECIST axes

model = dict(
    data_preprocessor=dict(mean=[50.], std=[50.]),
    backbone=dict(block_config=(2, 3, 4), growth_rate=16, bn_size=4, num_init_features=32, init_cfg=None),
    neck=dict(neck=dict(in_channels=[64, 80, 104], out_channels=128)),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(scales=[2, 3, 4, 6, 8]),  # 8-32 px: lesion boxes at 128 px are 10-30 px
        loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=256,
                       loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(out_channels=128),
        mask_head=dict(in_channels=128, num_convs=2, conv_out_channels=64)),
    train_cfg=dict(rpn=dict(allowed_border=-1), rpn_proposal=dict(nms_pre=1000, max_per_img=300)),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))

# DL_info.csv for every split, shift/scale/rotate with p = 0.5, batches of 4 read in the main process; no
# validation (the demo trains, then tests once)
train_pipeline = [*_base_.train_pipeline[:4], dict(_base_.train_pipeline[4], prob=0.5), _base_.train_pipeline[5]]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, batch_sampler=None,
                        dataset=dict(ann_file='DL_info.csv', pipeline=train_pipeline))
test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(ann_file='DL_info.csv'))
val_dataloader = val_evaluator = val_cfg = None
test_evaluator = dict(compute_map=False)

# 12 epochs of SGD lr 0.01 for the batch of 4, warm-up 100 iterations, one step at epoch 9
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [dict(_base_.param_scheduler[0], end=100),
                   dict(_base_.param_scheduler[1], end=max_epochs, milestones=[9])]
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(base_batch_size=4)

# log every 10 iterations, one checkpoint at the end, no drawing, one process (no SyncBN), seed 0
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1),
    visualization=dict(draw=False))
sync_bn = None
log_processor = dict(window_size=10)
randomness = dict(seed=0)
