# 3DCE on the synthetic tree: a narrow ResNet-18 over 3 groups of 3 slices (9 slices 2.5 mm apart), groups fused
# per level by 1x1 convs, a 64-channel FPN; data, heads and schedule of the MP3D-18 demo. The RPN sees the key
# group's maps alone, the RoI head the fused maps, as in the published 3DCE (rpn_on_key_group = False: both fused).
_base_ = './mp3d18_9slice_synthetic.py'

rpn_on_key_group = True
model = dict(
    type='KeyGroupRPNMaskRCNN',
    rpn_on_key_group=rpn_on_key_group,
    backbone=dict(
        _delete_=True,
        type='ThickenedResNet',
        depth=18,
        base_channels=32,
        num_slices=9,
        fusion='3dce',
        ssa=False,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False),
    neck=dict(_delete_=True, type='FPN', in_channels=[32, 64, 128, 256], out_channels=64, num_outs=4))
