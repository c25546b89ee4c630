# As swin_t_center_7slice.py with 'average' inflation: the 2D embedding divided over the 7 slices.
_base_ = './swin_t_center_7slice.py'

inflate = 'average'
