# 3DCE baseline (Yan et al., MICCAI 2018) in this toolkit: MMDetection's ResNet-50 over 3 groups of 3 slices
# (9 slices 2.5 mm apart), each group through the whole shared network, groups fused per level by a 1x1 conv,
# then a 256-channel FPN and the MP3D config's Faster R-CNN heads, data settings and 24-epoch schedule. As in the
# published 3DCE, the RPN sees the key group's maps alone and the RoI head the fused maps (KeyGroupRPNMaskRCNN;
# rpn_on_key_group = False feeds both heads with the fused maps).
# From torchvision's ImageNet ResNet-50 (the RGB stem reads each group of 3 slices). A local copy of the weights
# (or an MMDetection ResNet-50 / COCO checkpoint):
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/to/resnet50-0676ba61.pth
_base_ = '../deeplesion/mp3d63_9slice.py'

num_slices = 9
rpn_on_key_group = True
model = dict(
    type='KeyGroupRPNMaskRCNN',
    rpn_on_key_group=rpn_on_key_group,
    backbone=dict(
        _delete_=True,
        type='ThickenedResNet',
        depth=50,
        num_slices=num_slices,
        fusion='3dce',
        ssa=False,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained2D', checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    neck=dict(_delete_=True, type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5))
load_from = None  # the MP3D config's COCO pseudo-3D detector does not apply here
