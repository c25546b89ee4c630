# Mask R-CNN on the truncated DenseNet-121 with A3D convolutions (A3D, MICCAI 2021): 3D backbone on
# (N, 1, D, H, W) from torchvision's ImageNet DenseNet-121 (RGB stem summed to grey; `rgb_to_grey='green'` keeps
# the reference code's green channel), each level reduced to 2D by a D x 1 x 1 conv, top-down fusion to one
# stride-4 512-channel map. MMDetection's Mask R-CNN heads, with the box losses, RoIAlign sampling, anchors,
# samplers and anchor border of the public A3D/AlignShift code. The slice count is the config's `num_slices`.
# A local copy of the weights: --cfg-options model.backbone.init_cfg.checkpoint=/path/densenet121-a639ec97.pth
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    type='ContextMaskRCNN',
    data_preprocessor=dict(_delete_=True, type='VolumeDataPreprocessor', mean=[0.], std=[1.], pad_size_divisor=32,
                           pad_mask=True),
    backbone=dict(
        _delete_=True,
        type='DenseNet3D',
        num_slices='${num_slices}',
        context_conv=dict(type='A3DConv'),
        block_config=(6, 12, 24),
        growth_rate=32,
        out_indices=(0, 1, 2),
        norm_cfg=dict(type='BN3d', requires_grad=True),
        with_cp=False,
        init_cfg=dict(type='Pretrained2D', checkpoint='https://download.pytorch.org/models/densenet121-a639ec97.pth')),
    neck=dict(
        _delete_=True,
        type='ContextNeck',
        reduction=dict(type='SliceReduction', mode='conv', num_slices='${num_slices}'),
        neck=dict(type='TopDownFusion', in_channels=[256, 512, 1024], out_channels=512)),
    rpn_head=dict(
        in_channels=512,
        feat_channels=512,
        anchor_generator=dict(scales=[4, 6, 8, 12, 24, 48], strides=[4]),  # base 4 x scales: 16-192 px
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0)),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2), out_channels=512, featmap_strides=[4]),
        bbox_head=dict(in_channels=512, fc_out_channels=2048, num_classes=1,
                       loss_bbox=dict(type='SmoothL1Loss', beta=1.0)),
        mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2), out_channels=512, featmap_strides=[4]),
        mask_head=dict(  # FCNMaskHead with the reference's Dice loss on each RoI's class channel
            type='DiceFCNMaskHead',
            in_channels=512,
            num_classes=1,
            # per RoI 1 - (2 sum(p t) + 0.01) / (sum(p) + sum(t) + 0.01), p = sigmoid(logits), averaged over
            # the positive RoIs: the smoothing and first-power denominator of the public A3D/AlignShift code
            loss_mask=dict(_delete_=True, type='DiceLoss', use_sigmoid=True, activate=True, naive_dice=True, eps=0.01,
                           reduction='mean', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=32), allowed_border=0),
        rpn_proposal=dict(nms_pre=12000, max_per_img=2000),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=6000, max_per_img=300),
        rcnn=dict(score_thr=5e-5, max_per_img=50)))
