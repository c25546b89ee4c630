# A3D on MMDetection's ResNet-50 from torchvision's ImageNet weights (stages 1-3: 256/512/1024 channels at strides
# 4/8/16, as DenseNet3D), converted to 3D with A3D convolutions in the residual stages and a per-slice stem.
_base_ = './a3d_7slice.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet3D',
        depth=50,
        num_slices='${num_slices}',
        context_conv=dict(type='A3DConv'),
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(0, 1, 2),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        # RGB stem summed to grey; a local copy: --cfg-options model.backbone.init_cfg.checkpoint=/path/x.pth
        init_cfg=dict(type='Pretrained2D', checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')))
