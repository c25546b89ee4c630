# A3D with 3 slices 2 mm apart: the A3D paper's 3-slice column; every *_3slice.py inherits this file.
_base_ = './a3d_7slice.py'

num_slices = 3
