# 3DCE on the synthetic tree: a narrow ResNet-18 over 3 groups of 3 slices (9 slices 2.5 mm apart), groups fused
# per level by 1x1 convs, a 64-channel FPN; heads, data and schedule of the MP3D-18 demo (the A3D demo's window,
# augmentation and 12-epoch schedule), so its FROC sits in the same table.
# The RPN sees the key group's maps alone, the RoI head the fused maps, as in the published 3DCE
# (rpn_on_key_group = False: both fused).
# Measured on the 2-core CPU (synthetic test split: 53 key slices, 80 lesions; `python tools/demo.py --config
# <config>`, one seed, about 3 min each):
#   3dce_r18_9slice_synthetic.py               0.972 (sens@0.5 0.963); with rpn_on_key_group=False 0.978 (0.963)
#   thickened_esm_ssa_r18_9slice_synthetic.py  0.994 (sens@0.5 0.988)
#   swin_t_{center,average}_7slice_synthetic.py 0.906 (sens@0.5 0.825), the same run (no 2D checkpoint)
# With the MP3D-18 demo's wide window (-1024, 1050), no shift-scale-rotate and 10 epochs every 2D route was
# undertrained (FROC avg[0.5-4] 0.07-0.10).
_base_ = './mp3d18_9slice_synthetic.py'

num_slices = 9  # data, augmentation and schedule: those of the MP3D-18 demo (9 slices 2.5 mm apart)
rpn_on_key_group = True

model = dict(
    type='KeyGroupRPNMaskRCNN',
    rpn_on_key_group=rpn_on_key_group,
    backbone=dict(
        _delete_=True,
        type='ThickenedResNet',
        depth=18,
        base_channels=32,
        num_slices=num_slices,
        fusion='3dce',
        ssa=False,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False),
    neck=dict(_delete_=True, type='FPN', in_channels=[32, 64, 128, 256], out_channels=64, num_outs=4))
