# A3D universal lesion detector (MICCAI 2021), the paper's setting: DenseNet3D + A3D convolutions, 7 slices
# 2 mm apart, window [-1024, 2050] -> [-50, 205], 512 x 512, one stride-4 level, Mask R-CNN, SGD 0.02,
# 20 epochs with steps at 9 and 16, DeepLesionMetric every epoch.
# Data root: --cfg-options data_root=... or the DEEPLESION_ROOT environment variable (default data/DeepLesion).
# Masks: the JSON files of `python tools/prepare_deeplesion.py` (GrabCut pseudo-masks from the RECIST marks);
# without them set `ann_files` to DL_info.csv for all splits and `ellipse_masks = True`.
_base_ = [
    '../_base_/models/mask_rcnn_densenet3d_a3d.py', '../_base_/schedules/schedule_a3d_20e.py',
    '../_base_/default_runtime.py'
]

data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'
ann_files = dict(
    train='annotations/deeplesion_train.json',
    val='annotations/deeplesion_val.json',
    test='annotations/deeplesion_test.json')
ellipse_masks = False
num_slices = 7
slice_interval = 2.0  # mm between the stacked slices, whatever the series' interval
window = (-1024, 2050)
out_range = (-50, 205)
img_scale = (512, 512)
context_conv = dict(type='A3DConv')
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
             'slice_interval', 'input_slice_interval', 'instances', 'file_name', 'split')

model = dict(
    backbone=dict(num_slices=num_slices, context_conv=context_conv),
    neck=dict(reduction=dict(num_slices=num_slices)))

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # shift 0.04, scale 0.2, rotation 15 degrees with p = 0.8, the same for every slice, box and mask
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.8,
         border_value=out_range[0]),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),  # after Resize: ground truth in original coordinates
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=2,  # x 4 GPUs = the paper's batch of 8 for lr 0.02
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='DeepLesionDataset',
        data_root=data_root,
        ann_file=ann_files['train'],
        split='train',
        skip_noisy=True,
        ellipse_masks=ellipse_masks,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DeepLesionDataset',
        data_root=data_root,
        ann_file=ann_files['val'],
        split='val',
        skip_noisy=True,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DeepLesionDataset',
        data_root=data_root,
        ann_file=ann_files['test'],
        split='test',
        skip_noisy=True,
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='DeepLesionMetric')
test_evaluator = val_evaluator
