# A context-free reference for the demo: per-slice (no fusion) convolutions and only the centre (key) slice of
# each level kept by the 3D->2D reduction (MP3D's CTM), so nothing ever sees the neighbouring slices. On the
# synthetic tree only 3D context tells lesions from the vessel-like distractors, so this model shows what the
# context is worth.
_base_ = './nofusion_7slice_synthetic.py'

model = dict(neck=dict(reduction=dict(mode='center')))
