# MP3D FPN: the modified pseudo-3D ResNet-63 (GN 32), group transform module (GTM) on 4 levels, a standard
# 256-channel 5-level FPN (P6 by max-pool), anchors of scale 4 on strides 4-64 (16-256 px), RoIAlign 7x7 and
# 2 FC of 1024: MMDetection's Faster R-CNN heads. Boxes only (ContextMaskRCNN without mask head is a Faster R-CNN).
# The slice count is the config's `num_slices`.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    type='ContextMaskRCNN',
    data_preprocessor=dict(_delete_=True, type='VolumeDataPreprocessor', mean=[0.], std=[1.], pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='MP3DResNet',
        depth=63,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    neck=dict(
        _delete_=True,
        type='ContextNeck',
        reduction=dict(type='SliceReduction', mode='gtm', num_slices='${num_slices}'),
        neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5)),
    rpn_head=dict(anchor_generator=dict(scales=[4])),
    roi_head=dict(bbox_head=dict(num_classes=1)),
    test_cfg=dict(rcnn=dict(score_thr=5e-5, max_per_img=50)))
