# DeepLesion in the MP3D setting: 9 slices 2.5 mm apart, window [-1024, 1050] -> [-50, 205], multi-scale training
# {448, 512, 576}, horizontal and vertical flips (each with p = 0.5, independently), 512 px at test time. Boxes only.
_base_ = './deeplesion.py'

num_slices = 9
input_slice_interval = 2.5
window = (-1024, 1050)

train_pipeline = [
    _base_.load_slices,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(448, 448), (512, 512), (576, 576)], keep_ratio=True),
    # independent horizontal and vertical flips: each of h, v, both with p = 0.25
    dict(type='RandomFlip', prob=[0.25, 0.25, 0.25], direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackCTInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
