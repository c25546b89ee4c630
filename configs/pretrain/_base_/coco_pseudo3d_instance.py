# COCO 2017 instances as pseudo-3D volumes: MMDetection's COCO instance data with each RGB image turned into 3
# consecutive slices (R, G, B) of a (H, W, 3) volume (RGBToPseudo3D), normalised by the model's
# VolumeDataPreprocessor with one mean/std for all slices; boxes, masks and the 80 classes are COCO's. Layout:
# data_root/{train,val}2017, annotations/. Any COCO-format set works: set data_root (e.g. the synthetic set of
# tools/make_synthetic_coco.py); the datasets and the evaluator's ann_file read it ('${data_root}', docs/configs.md).
# (default_scope and custom_imports come from ../../_base_/default_runtime.py.)
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

data_root = 'data/coco/'
img_scale = (1333, 800)
random_slice_order = False  # True: a random permutation of the three colour slices per sample

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RGBToPseudo3D', in_order='bgr', random_order='${random_slice_order}'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackCTInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RGBToPseudo3D', in_order='bgr'),
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackCTInputs'),
]
train_dataloader = dict(dataset=dict(data_root='${data_root}', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root='${data_root}', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='${data_root}annotations/instances_val2017.json')
test_evaluator = val_evaluator
