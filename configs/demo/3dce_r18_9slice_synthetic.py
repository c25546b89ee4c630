# 3DCE (configs/deeplesion_2d/3dce_r50_9slice.py) on the MP3D-18 demo's heads, data and schedule, from scratch: a
# narrow ResNet-18 over 3 groups of 3 slices fused per level by 1x1 convs, a 64-channel FPN, the key group alone
# feeding the RPN; BatchNorm trains too (norm_eval=False). As the 3DCE paper config on MP3D's detector, this demo
# is the MP3D-18 demo with the 3DCE backbone.
_base_ = './mp3d18_9slice_synthetic.py'

rpn_on_key_group = True  # False: both heads see the fused maps

model = dict(
    type='KeyGroupRPNMaskRCNN',
    rpn_on_key_group='${rpn_on_key_group}',
    backbone=dict(
        _delete_=True,
        type='ThickenedResNet',
        depth=18,
        base_channels=32,
        num_slices='${num_slices}',
        fusion='3dce',
        ssa=False,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False),
    neck=dict(_delete_=True, type='FPN', in_channels=[32, 64, 128, 256], out_channels=64, num_outs=4))
