# COCO 2017 instances as pseudo-3D volumes: each RGB image becomes 3 consecutive slices (R, G, B) of a
# (H, W, 3) volume (RGBToPseudo3D), normalised by the model's VolumeDataPreprocessor with one mean/std for all
# slices; boxes, masks and the 80 classes are COCO's. Layout: data_root/{train,val}2017, annotations/.
# Any COCO-format set works: override data_root (e.g. the synthetic set of tools/make_synthetic_coco.py).
# (default_scope and custom_imports come from ../../_base_/default_runtime.py.)

dataset_type = 'CocoDataset'
data_root = 'data/coco/'
img_scale = (1333, 800)
random_slice_order = False  # True: a random permutation of the three colour slices per sample

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RGBToPseudo3D', in_order='bgr', random_order=random_slice_order),
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
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json', metric=['bbox', 'segm'],
    format_only=False)
test_evaluator = val_evaluator
