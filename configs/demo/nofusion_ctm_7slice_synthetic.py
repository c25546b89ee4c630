# A context-free reference for the demo, from scratch: per-slice (no fusion) convolutions and only the centre (key)
# slice of each level kept by the 3D->2D reduction (MP3D's CTM), so nothing ever sees the neighbouring slices.
_base_ = './nofusion_7slice_synthetic.py'

model = dict(neck=dict(reduction=dict(mode='center')))
