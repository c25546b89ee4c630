# 3DCE (Yan et al., MICCAI 2018) in this toolkit: ImageNet ResNet-50 over 3 groups of 3 slices fused per level,
# FPN 256, the key group alone feeding the RPN; MP3D's heads, data (9 slices 2.5 mm apart; num_slices a multiple
# of 3) and 24-epoch schedule.
# (The 3DCE paper: R-FCN on ImageNet VGG-16, up to 27 slices; here the detector of the MP3D comparison.)
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/datasets/deeplesion_mp3d.py',
    '../_base_/schedules/schedule_mp3d_24e.py', '../_base_/default_runtime.py'
]

rpn_on_key_group = True  # False: both heads see the fused maps

model = dict(
    type='KeyGroupRPNMaskRCNN',
    rpn_on_key_group='${rpn_on_key_group}',
    backbone=dict(
        _delete_=True,
        type='ThickenedResNet',
        depth=50,
        num_slices='${num_slices}',
        fusion='3dce',
        ssa=False,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,  # frozen ImageNet statistics: only with a checkpoint (the backbone refuses it without one)
        style='pytorch',
        # a local copy: --cfg-options model.backbone.init_cfg.checkpoint=/path/resnet50-0676ba61.pth
        init_cfg=dict(type='Pretrained2D', checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    neck=dict(_delete_=True, type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5))
