# The demos' synthetic DeepLesion tree (`tools/make_synthetic_deeplesion.py`; tools/train.py makes it on first use
# with the `synthetic` settings): 128 px slices, soft-tissue window [-175, 275] (the synthetic lesions and
# distractors sit in soft tissue), shift/scale/rotate with p = 0.5, batches of 4 read in the main process, no
# validation (the demos train, then test once). Boxes only; 7 slices 2 mm apart unless a leaf rebuilds the loader.
_base_ = './deeplesion.py'

data_root = 'data/synthetic/demo_200p_128px'
synthetic = dict(num_patients=200, seed=0, image_size=128)  # tools/train.py makes the tree if missing
window = (-175, 275)
img_scale = (128, 128)

load_slices = dict(_base_.load_slices, window=window)
train_pipeline = [
    load_slices,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.5,
         border_value=_base_.out_range[0]),
    dict(type='PackCTInputs'),
]
test_pipeline = [
    load_slices,
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackCTInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    batch_sampler=None,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_evaluator = dict(type='DeepLesionMetric', compute_map=False)
val_dataloader = None
val_evaluator = None
