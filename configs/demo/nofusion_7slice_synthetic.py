# The demo's 2.5D baseline, from scratch: the A3D demo with per-slice (no fusion) convolutions in the backbone;
# only the D x 1 x 1 reduction after each block sees several slices (`python tools/demo.py --compare`).
_base_ = './a3d_7slice_synthetic.py'

model = dict(backbone=dict(context_conv=dict(_delete_=True, type='NoFusionConv')))
