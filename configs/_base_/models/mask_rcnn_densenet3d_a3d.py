# Mask R-CNN on the truncated DenseNet-121 with A3D convolutions (A3D, MICCAI 2021): 3D backbone on
# (N, 1, D, H, W) from torchvision's ImageNet DenseNet-121 (RGB stem summed to grey; `rgb_to_grey='green'` keeps
# the reference code's green channel), each level reduced to 2D by a D x 1 x 1 conv, top-down fusion to one
# stride-4 512-channel map. Box losses, RoIAlign sampling and anchor border as the public A3D/AlignShift code.
# A local copy of the weights: --cfg-options model.backbone.init_cfg.checkpoint=/path/densenet121-a639ec97.pth

model = dict(
    type='ContextMaskRCNN',
    data_preprocessor=dict(type='VolumeDataPreprocessor', mean=[0.], std=[1.], pad_size_divisor=32,
                           pad_mask=True),
    backbone=dict(
        type='DenseNet3D',
        num_slices=7,
        context_conv=dict(type='A3DConv'),
        block_config=(6, 12, 24),
        growth_rate=32,
        out_indices=(0, 1, 2),
        norm_cfg=dict(type='BN3d', requires_grad=True),
        with_cp=False,
        init_cfg=dict(type='Pretrained2D', checkpoint='https://download.pytorch.org/models/densenet121-a639ec97.pth')),
    neck=dict(
        type='ContextNeck',
        reduction=dict(type='SliceReduction', mode='conv', num_slices=7),
        neck=dict(type='TopDownFusion', in_channels=[256, 512, 1024], out_channels=512)),
    rpn_head=dict(
        type='RPNHead',
        in_channels=512,
        feat_channels=512,
        anchor_generator=dict(  # base 4 x scales: 16-192 px
            type='AnchorGenerator', scales=[4, 6, 8, 12, 24, 48], ratios=[0.5, 1.0, 2.0], strides=[4]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            out_channels=512,
            featmap_strides=[4]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=512,
            fc_out_channels=2048,
            roi_feat_size=7,
            num_classes=1,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2),
            out_channels=512,
            featmap_strides=[4]),
        mask_head=dict(  # FCNMaskHead with the reference's Dice loss on each RoI's class channel
            type='DiceFCNMaskHead',
            num_convs=4,
            in_channels=512,
            conv_out_channels=256,
            num_classes=1,
            # per RoI 1 - (2 sum(p t) + 0.01) / (sum(p) + sum(t) + 0.01), p = sigmoid(logits), averaged over
            # the positive RoIs: the smoothing and first-power denominator of the public A3D/AlignShift code
            loss_mask=dict(type='DiceLoss', use_sigmoid=True, activate=True, naive_dice=True, eps=0.01,
                           reduction='mean', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3, match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=32, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=0,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=12000, max_per_img=2000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=6000, max_per_img=300, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(score_thr=5e-5, nms=dict(type='nms', iou_threshold=0.5), max_per_img=50, mask_thr_binary=0.5)))
