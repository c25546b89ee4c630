# 2.5D no fusion: each slice convolved on its own (7 slices);
# otherwise the A3D setting (the A3D paper's comparison table).
_base_ = './a3d_7slice.py'

model = dict(backbone=dict(context_conv=dict(_delete_=True, type='NoFusionConv')))
