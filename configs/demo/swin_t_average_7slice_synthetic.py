# As swin_t_center_7slice_synthetic.py with the patch embedding divided over the 7 slices ('average'). Trained
# from scratch (no 2D checkpoint to inflate) it is the centre demo's model and run.
_base_ = './swin_t_center_7slice_synthetic.py'

inflate = 'average'
