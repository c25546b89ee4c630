# The demo (`make demo`): the A3D detector of configs/deeplesion/a3d_7slice.py shrunk to train in minutes on a CPU,
# on the synthetic tree with thickness-scaled noise (ellipse masks from the RECIST axes). Trains from scratch.
# It keeps L1 box losses and allowed_border=-1, the settings its measured FROC was obtained with.
_base_ = [
    '../_base_/models/mask_rcnn_densenet3d_a3d.py', '../_base_/datasets/deeplesion_synthetic.py',
    '../_base_/schedules/schedule_demo_12e.py', '../_base_/demo_runtime.py'
]

data_root = 'data/synthetic/demo_200p_128px_thinnoise'
# tools/train.py makes the tree if missing (python tools/make_synthetic_deeplesion.py with these settings)
synthetic = dict(num_patients=200, seed=0, image_size=128, noise_hu=8.0, noise_ref_mm=5.0, contrast_scale=0.7)
num_slices = 7
input_slice_interval = 2.0
window = (-175, 275)  # soft-tissue window: the synthetic lesions and distractors sit in soft tissue
context_conv = dict(type='A3DConv')

model = dict(
    data_preprocessor=dict(mean=[50.], std=[50.]),
    backbone=dict(
        num_slices=num_slices,
        context_conv=context_conv,
        block_config=(2, 3, 4),
        growth_rate=16,
        bn_size=4,
        num_init_features=32,
        init_cfg=None),
    neck=dict(
        reduction=dict(num_slices=num_slices), neck=dict(in_channels=[64, 80, 104], out_channels=128)),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(scales=[2, 3, 4, 6, 8]),  # 8-32 px: lesion boxes at 128 px are 10-30 px
        loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=256,
                       loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(out_channels=128),
        mask_head=dict(in_channels=128, num_convs=2, conv_out_channels=64)),
    train_cfg=dict(rpn=dict(allowed_border=-1), rpn_proposal=dict(nms_pre=1000, max_per_img=300)),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))

load_slices = dict(_base_.load_slices, num_slices=num_slices, input_slice_interval=input_slice_interval, window=window)
train_pipeline = [
    load_slices,
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False),
    *_base_.train_pipeline[2:],
]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
train_dataloader = dict(dataset=dict(data_root=data_root, ellipse_masks=True, pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
