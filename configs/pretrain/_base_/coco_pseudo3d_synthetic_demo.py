# Data, schedule and runtime of the pseudo-3D demos (configs/demo/*_coco_pseudo3d_synthetic.py): the synthetic
# COCO-format set of `python tools/make_synthetic_coco.py --out data/synthetic/coco_shapes_128px --num-train 64
# --num-val 16 --image-size 128`, 128 px, random slice order, 6 short epochs, one test on its val split; the demo
# runtime (log every 10 iterations, one checkpoint at the end, no drawing, seed 0).
_base_ = ['./coco_pseudo3d_instance.py', '../../_base_/demo_runtime.py']

data_root = 'data/synthetic/coco_shapes_128px/'
img_scale = (128, 128)
random_slice_order = True
max_epochs = 6

train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, batch_sampler=None,
    dataset=dict(filter_cfg=dict(filter_empty_gt=True, min_size=4)))
test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
test_evaluator = dict(metric=['bbox'])
val_dataloader = val_evaluator = val_cfg = None  # no validation: the demo trains, then tests once

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[5], gamma=0.1)
]
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(checkpoint=dict(interval=max_epochs))
