# DeepLesion read straight from DL_info.csv, boxes only, in the A3D / AlignShift setting: 7 slices 2 mm apart
# around each key slice, window [-1024, 2050] -> [-50, 205], 512 px, horizontal flip and shift (0.04) / scale (0.2)
# / rotate (15 degrees) with p = 0.8. Masks (Mask R-CNN): `deeplesion_mask.py`; the MP3D setting: `deeplesion_mp3d.py`.
#
# The loader, the resize and every dataset read the top-level variables below through config references
# ('${num_slices}', resolved when mmdet3dctx.apis.load_config reads the config: docs/configs.md), so a leaf or
# `--cfg-options` changes one variable and the pipelines, the dataloaders and the model all follow:
#   num_slices = 3                  # in a leaf config
#   --cfg-options data_root=/data/DeepLesion input_slice_interval=None
data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'  # env DEEPLESION_ROOT, else data/DeepLesion
num_slices = 7  # odd; the key slice is the middle one
input_slice_interval = 2.0  # mm between the stacked slices, whatever the series' interval (None: the adjacent slices)
window = (-1024, 2050)  # HU mapped to out_range
out_range = (-50, 205)
img_scale = (512, 512)

load_slices = dict(type='LoadDeepLesionSlices', num_slices='${num_slices}',
                   input_slice_interval='${input_slice_interval}', window='${window}', out_range='${out_range}')
train_pipeline = [
    load_slices,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # shift 0.04, scale 0.2, rotation 15 degrees with p = 0.8, the same for every slice, box and mask
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.8,
         border_value=out_range[0]),
    dict(type='PackCTInputs'),
]
test_pipeline = [
    load_slices,
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),  # after Resize: ground truth in original coordinates
    dict(type='PackCTInputs'),
]

train_dataloader = dict(
    batch_size=2,  # x 4 GPUs = the A3D paper's batch of 8 for lr 0.02
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='DeepLesionDataset',
        data_root='${data_root}',
        ann_file='DL_info.csv',
        split='train',
        skip_noisy=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DeepLesionDataset',
        data_root='${data_root}',
        ann_file='DL_info.csv',
        split='val',
        skip_noisy=True,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))

val_evaluator = dict(type='DeepLesionMetric')
test_evaluator = val_evaluator
