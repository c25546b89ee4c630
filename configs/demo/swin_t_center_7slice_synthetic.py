# An inflated Swin Transformer on the synthetic tree: 7 slices 2 mm apart read by a patch embedding inflated on
# the key slice ('center'), a small Swin (embed 32, depths 1-1-2-1), a 64-channel FPN, AdamW; heads of the MP3D-18
# demo and its schedule (the A3D demo's 12 epochs, step at 9); the A3D demo's window and augmentation for 7 slices
# 2 mm apart, so its FROC sits in the same table. No 2D checkpoint is loaded here, and `inflate` only acts when one
# is: without one the 'average' demo trains exactly this model.
_base_ = './mp3d18_9slice_synthetic.py'

num_slices = 7
slice_interval = 2.0
window = (-175, 275)  # soft-tissue window, as the A3D demo
out_range = (-50, 205)
img_scale = (128, 128)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
             'slice_interval', 'input_slice_interval', 'instances', 'file_name', 'split')

model = dict(
    backbone=dict(
        _delete_=True,
        type='InflatedSwinTransformer',
        num_slices=num_slices,
        inflate='center',
        embed_dims=32,
        depths=[1, 1, 2, 1],
        num_heads=[1, 2, 4, 8],
        window_size=4,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3)),
    neck=dict(_delete_=True, type='FPN', in_channels=[32, 64, 128, 256], out_channels=64, num_outs=4))

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.5,
         border_value=out_range[0]),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
