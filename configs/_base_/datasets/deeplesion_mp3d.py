# DeepLesion in the MP3D setting: 9 slices 2.5 mm apart, window [-1024, 1050], multi-scale training
# {448, 512, 576}, horizontal flips. Boxes only (MP3D is a Faster R-CNN/FPN detector).
_base_ = './deeplesion.py'

num_slices = 9
slice_interval = 2.5
window = (-1024, 1050)
out_range = (-50, 205)
img_scale = (512, 512)

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(448, 448), (512, 512), (576, 576)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Pad', size_divisor=32, pad_val=dict(img=0.0, seg=255)),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.0),
    dict(type='Pad', size_divisor=32, pad_val=dict(img=0.0, seg=255)),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
