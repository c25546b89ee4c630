# DeepLesion read straight from DL_info.csv: 7 slices 2 mm apart around each key slice (A3D / AlignShift
# setting), one class `lesion`, boxes only. For masks (Mask R-CNN) inherit `deeplesion_mask.py` instead.
#
# Tune in a leaf config: data_root (or env DEEPLESION_ROOT), num_slices, slice_interval, window. MMEngine does not
# re-evaluate this file's pipelines when a leaf redefines a variable, so a leaf that changes them also rebuilds
# the pipelines (copy the lists below), e.g. `num_slices = 3` plus its own `train_pipeline`/`test_pipeline` and
# `train_dataloader = dict(dataset=dict(pipeline=train_pipeline))` (the same for val/test).
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdet3dctx'], allow_failed_imports=False)

dataset_type = 'DeepLesionDataset'
data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'  # env DEEPLESION_ROOT, else data/DeepLesion
ann_file = 'DL_info.csv'
num_slices = 7  # odd; the key slice is the middle one
slice_interval = 2.0  # mm between the stacked slices, whatever the series' interval
window = (-1024, 2050)  # HU mapped to out_range
out_range = (-50, 205)
img_scale = (512, 512)
depth_flip_prob = 0.0  # optional augmentation: reverse the slice order
backend_args = None

meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
             'slice_interval', 'instances', 'file_name', 'split')

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range, backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # shift 0.04, scale 0.2, rotation 15 degrees with p = 0.8, the same for every slice, box and mask
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.8,
         border_value=out_range[0]),
    dict(type='RandomDepthFlip', prob=depth_flip_prob),
    # A float pad value: MMDetection turns an int into a D-tuple that OpenCV refuses for D > 4, and OpenCV
    # would repeat a nonzero value over every 4th channel only; 0.0 pads every slice with 0.
    dict(type='Pad', size_divisor=32, pad_val=dict(img=0.0, seg=255)),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range, backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # after Resize: ground truth stays in original coordinates for evaluation
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.0),  # records flip=False for the meta keys
    dict(type='Pad', size_divisor=32, pad_val=dict(img=0.0, seg=255)),
    dict(type='PackDetInputs', meta_keys=meta_keys),
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
        ann_file=ann_file,
        split='train',
        skip_noisy=True,
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split='val',
        skip_noisy=True,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split='test',
        skip_noisy=True,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))

val_evaluator = dict(type='DeepLesionMetric')
test_evaluator = val_evaluator
