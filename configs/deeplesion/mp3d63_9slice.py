# MP3D FPN: modified P3D ResNet-63 (GN 32), GTM 3D->2D on 4 levels + FPN 256, 9 slices 2.5 mm apart, window
# [-1024, 1050], anchors 16-256 px, multi-scale training {448, 512, 576}, horizontal flips, 24 epochs with steps at
# 16 and 22; boxes only. fp16 on GPU: `python tools/train.py configs/deeplesion/mp3d63_9slice.py --amp`.
# Data root: --cfg-options data_root=... or the DEEPLESION_ROOT environment variable (default data/DeepLesion).
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/schedules/schedule_mp3d_24e.py',
    '../_base_/default_runtime.py'
]

data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'
ann_file = 'DL_info.csv'
num_slices = 9
slice_interval = 2.5
window = (-1024, 1050)
out_range = (-50, 205)
img_scale = (512, 512)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
             'slice_interval', 'input_slice_interval', 'instances', 'file_name', 'split')

model = dict(neck=dict(reduction=dict(num_slices=num_slices)))
# As in the paper, the whole detector starts from MP3D's COCO pseudo-3D pretraining (3 slices, 80 classes), made
# once by configs/pretrain/mp3d63_coco_pseudo3d.py and moved to 9 slices and 1 class by
#   python tools/transfer_weights.py work_dirs/mp3d63_coco_pseudo3d/epoch_72.pth \
#       --config configs/deeplesion/mp3d63_9slice.py --out checkpoints/mp3d63_9slice_from_coco.pth
# Another file: --cfg-options load_from=/path/to/file.pth; from scratch: --cfg-options load_from=None.
load_from = 'checkpoints/mp3d63_9slice_from_coco.pth'

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(448, 448), (512, 512), (576, 576)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, slice_interval=slice_interval, window=window,
         out_range=out_range),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),  # after Resize: ground truth in original coordinates
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='DeepLesionDataset', data_root=data_root, ann_file=ann_file, split='train', skip_noisy=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DeepLesionDataset', data_root=data_root, ann_file=ann_file, split='val', skip_noisy=True,
        test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DeepLesionDataset', data_root=data_root, ann_file=ann_file, split='test', skip_noisy=True,
        test_mode=True, pipeline=test_pipeline))
val_evaluator = dict(type='DeepLesionMetric')
test_evaluator = val_evaluator
