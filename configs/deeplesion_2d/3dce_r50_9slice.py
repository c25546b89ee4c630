# 3DCE (Yan et al., MICCAI 2018) in this toolkit: ImageNet ResNet-50 over 3 groups of 3 slices fused per level,
# FPN 256, the key group alone feeding the RPN; MP3D's heads, data (9 slices 2.5 mm apart) and 24-epoch schedule.
# (The 3DCE paper: R-FCN on ImageNet VGG-16, up to 27 slices; here the detector of the MP3D comparison.)
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/datasets/deeplesion_mp3d.py',
    '../_base_/schedules/schedule_mp3d_24e.py', '../_base_/default_runtime.py'
]

data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'  # or --cfg-options data_root=... (default data/DeepLesion)
num_slices = 9  # a multiple of 3
input_slice_interval = 2.5
window = (-1024, 1050)
rpn_on_key_group = True  # False: both heads see the fused maps

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
        norm_eval=True,  # frozen ImageNet statistics: only with a checkpoint (the backbone refuses it without one)
        style='pytorch',
        # a local copy: --cfg-options model.backbone.init_cfg.checkpoint=/path/resnet50-0676ba61.pth
        init_cfg=dict(type='Pretrained2D', checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    neck=dict(_delete_=True, type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5))

load_slices = dict(_base_.load_slices, num_slices=num_slices, input_slice_interval=input_slice_interval, window=window)
train_pipeline = [load_slices, *_base_.train_pipeline[1:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
