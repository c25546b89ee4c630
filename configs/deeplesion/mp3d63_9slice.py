# MP3D FPN (Zhang et al., MICCAI 2020, "Revisiting 3D Context Modeling with Supervised Pre-training for Universal
# Lesion Detection in CT Slices"): modified P3D ResNet-63 (GN 32) + GTM + FPN, 9 slices 2.5 mm apart, 24 epochs,
# fp16 on GPU, starting from the COCO pseudo-3D pretraining (configs/pretrain/mp3d63_coco_pseudo3d.py).
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/datasets/deeplesion_mp3d.py',
    '../_base_/schedules/schedule_mp3d_24e.py', '../_base_/default_runtime.py'
]

data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'  # or --cfg-options data_root=... (default data/DeepLesion)
num_slices = 9
input_slice_interval = 2.5  # mm between the stacked slices, whatever the series' interval
window = (-1024, 1050)  # HU mapped to [-50, 205]

model = dict(neck=dict(reduction=dict(num_slices=num_slices)))
# As in the paper, the whole detector starts from MP3D's COCO pseudo-3D pretraining (3 slices, 80 classes), made
# once by configs/pretrain/mp3d63_coco_pseudo3d.py and moved to 9 slices and 1 class by
#   python tools/transfer_weights.py work_dirs/mp3d63_coco_pseudo3d/epoch_72.pth \
#       --config configs/deeplesion/mp3d63_9slice.py --out checkpoints/mp3d63_9slice_from_coco.pth
# Another file: --cfg-options load_from=/path/to/file.pth; from scratch: --cfg-options load_from=None.
load_from = 'checkpoints/mp3d63_9slice_from_coco.pth'

load_slices = dict(_base_.load_slices, num_slices=num_slices, input_slice_interval=input_slice_interval, window=window)
train_pipeline = [load_slices, *_base_.train_pipeline[1:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))

# fp16 with a dynamic loss scale on GPU, as the paper trained. Without a GPU tools/train.py runs bf16 autocast
# instead; float32: --cfg-options optim_wrapper.type=OptimWrapper
optim_wrapper = dict(type='AmpOptimWrapper')
