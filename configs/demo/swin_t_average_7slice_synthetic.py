# As swin_t_center_7slice_synthetic.py with the patch embedding divided over the 7 slices ('average').
_base_ = './swin_t_center_7slice_synthetic.py'

model = dict(backbone=dict(inflate='average'))
