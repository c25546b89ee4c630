# Swin-T from its ImageNet weights with the patch embedding inflated over 7 grey slices 2 mm apart (TransSeg-style,
# 'center': the RGB-summed embedding on the key slice), FPN 256, MP3D's heads and 24 epochs, AdamW.
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/datasets/deeplesion.py',
    '../_base_/schedules/schedule_mp3d_24e.py', '../_base_/default_runtime.py'
]

inflate = 'center'  # or 'average'

model = dict(
    backbone=dict(
        _delete_=True,
        type='InflatedSwinTransformer',
        num_slices='${num_slices}',
        inflate='${inflate}',
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
        # the file MMDetection's Swin configs use; a local copy: --cfg-options model.backbone.init_cfg.checkpoint=...
        init_cfg=dict(
            type='Pretrained2D',
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
            'swin_tiny_patch4_window7_224.pth')),
    neck=dict(_delete_=True, type='FPN', in_channels=[96, 192, 384, 768], out_channels=256, num_outs=5))

# single-scale, flip only (no shift/scale/rotate)
train_pipeline = [*_base_.train_pipeline[:4], _base_.train_pipeline[-1]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# AdamW as for Swin detectors in MMDetection
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(absolute_pos_embed=dict(decay_mult=0.), relative_position_bias_table=dict(
        decay_mult=0.), norm=dict(decay_mult=0.))))
