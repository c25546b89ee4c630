# Swin-T with its patch embedding inflated over 7 grey slices 2 mm apart (TransSeg-style): the ImageNet Swin-T
# of the Swin authors (the file MMDetection's Swin configs use) loads with the embedding summed over RGB and placed
# on the key slice ('center'), so the detector starts as the 2D model on the key slice. FPN 256 + the MP3D
# config's heads and schedule. A local copy of the weights:
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/to/swin_tiny_patch4_window7_224.pth
_base_ = '../deeplesion/mp3d63_9slice.py'

swin_t_imagenet = ('https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
                   'swin_tiny_patch4_window7_224.pth')
num_slices = 7
slice_interval = 2.0
window = (-1024, 2050)
out_range = (-50, 205)
img_scale = (512, 512)
inflate = 'center'
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
             'slice_interval', 'input_slice_interval', 'instances', 'file_name', 'split')

model = dict(
    backbone=dict(
        _delete_=True,
        type='InflatedSwinTransformer',
        num_slices=num_slices,
        inflate=inflate,
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=True,
        init_cfg=dict(type='Pretrained2D', checkpoint=swin_t_imagenet)),
    neck=dict(_delete_=True, type='FPN', in_channels=[96, 192, 384, 768], out_channels=256, num_outs=5))

load_from = None  # the MP3D config's COCO pseudo-3D detector does not apply here

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
# AdamW as for Swin detectors in MMDetection
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(absolute_pos_embed=dict(decay_mult=0.), relative_position_bias_table=dict(
        decay_mult=0.), norm=dict(decay_mult=0.))))
