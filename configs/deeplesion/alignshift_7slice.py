# AlignShift (MICCAI 2020), 7 slices: thickness-adaptive slice shift on the adjacent slices of the series (no
# resampling), each sample's slice interval reaching the operators through ContextMaskRCNN; otherwise the A3D setting.
_base_ = './a3d_7slice.py'

input_slice_interval = None  # the adjacent slices of the series, whatever their interval

model = dict(backbone=dict(context_conv=dict(_delete_=True, type='AlignShiftConv')))
