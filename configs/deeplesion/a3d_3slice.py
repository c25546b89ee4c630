# A3D with 3 slices 2 mm apart: the A3D paper's 3-slice column; every *_3slice.py inherits this file.
_base_ = './a3d_7slice.py'

num_slices = 3

model = dict(backbone=dict(num_slices=num_slices), neck=dict(reduction=dict(num_slices=num_slices)))

load_slices = dict(_base_.load_slices, num_slices=num_slices)
train_pipeline = [load_slices, *_base_.train_pipeline[1:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
