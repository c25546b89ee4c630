# TSM: 1/8 of channels shifted up and 1/8 down before each conv (3 slices);
# otherwise the A3D setting (the A3D paper's comparison table).
_base_ = './a3d_3slice.py'

model = dict(backbone=dict(context_conv=dict(_delete_=True, type='TSMConv')))
