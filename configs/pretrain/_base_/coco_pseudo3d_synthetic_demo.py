# Data, schedule and runtime of the pseudo-3D demos (configs/demo/*_coco_pseudo3d_synthetic.py): the synthetic
# COCO-format set of `python tools/make_synthetic_coco.py --out data/synthetic/coco_shapes_128px --num-train 64
# --num-val 16 --image-size 128`, 128 px, random slice order, 6 short epochs, one test on its val split.
_base_ = ['./coco_pseudo3d_instance.py', '../../_base_/default_runtime.py']

data_root = 'data/synthetic/coco_shapes_128px/'
img_scale = (128, 128)
max_epochs = 6

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RGBToPseudo3D', in_order='bgr', random_order=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackCTInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RGBToPseudo3D', in_order='bgr'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackCTInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, batch_sampler=None,
    dataset=dict(data_root=data_root, filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json', metric=['bbox'])
# no validation during the demo: it trains, then tests once
val_dataloader = None
val_cfg = None
val_evaluator = None

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
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1),
    visualization=dict(draw=False))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
