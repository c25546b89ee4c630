# A small inflated Swin Transformer (embed 32, depths 1-1-2-1; configs/deeplesion_2d/swin_t_center_7slice.py shrunk)
# on the MP3D-18 demo's heads, data and schedule: 7 slices 2 mm apart, a 64-channel FPN, AdamW. Trains from scratch:
# `inflate` only acts when a 2D checkpoint loads, so without one the 'average' demo trains exactly this model.
_base_ = './mp3d18_9slice_synthetic.py'

num_slices = 7
input_slice_interval = 2.0
inflate = 'center'

model = dict(
    backbone=dict(
        _delete_=True,
        type='InflatedSwinTransformer',
        num_slices='${num_slices}',
        inflate='${inflate}',
        embed_dims=32,
        depths=[1, 1, 2, 1],
        num_heads=[1, 2, 4, 8],
        window_size=4,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3)),
    neck=dict(_delete_=True, type='FPN', in_channels=[32, 64, 128, 256], out_channels=64, num_outs=4))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
