# P3D: 1x3x3 conv then a 3x1x1 conv initialised as identity (7 slices);
# otherwise the A3D setting (the A3D paper's comparison table).
_base_ = './a3d_7slice.py'

model = dict(backbone=dict(context_conv=dict(_delete_=True, type='P3DConv')))
