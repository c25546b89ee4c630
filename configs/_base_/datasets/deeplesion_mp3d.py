# DeepLesion in the MP3D setting: 9 slices 2.5 mm apart, window [-1024, 1050] -> [-50, 205], multi-scale training
# {448, 512, 576}, horizontal and vertical flips (each with p = 0.5, independently), 512 px at test time. Boxes only.
# A leaf that changes a slice setting rebuilds the loader as shown in `deeplesion.py`.
_base_ = './deeplesion.py'

num_slices = 9
input_slice_interval = 2.5
window = (-1024, 1050)

load_slices = dict(_base_.load_slices, num_slices=num_slices, input_slice_interval=input_slice_interval, window=window)
train_pipeline = [
    load_slices,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(448, 448), (512, 512), (576, 576)], keep_ratio=True),
    # independent horizontal and vertical flips: each of h, v, both with p = 0.25
    dict(type='RandomFlip', prob=[0.25, 0.25, 0.25], direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackCTInputs'),
]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
