# A3D universal lesion detector (Asymmetric 3D Context Fusion, MICCAI 2021) in the paper's setting: DenseNet3D with
# A3D convolutions from ImageNet DenseNet-121, 7 slices 2 mm apart, Mask R-CNN, 20 epochs; the A3D paper's
# 7-slice column (every DenseNet3D operator config inherits this file).
_base_ = [
    '../_base_/models/mask_rcnn_densenet3d_a3d.py', '../_base_/datasets/deeplesion_mask.py',
    '../_base_/schedules/schedule_a3d_20e.py', '../_base_/default_runtime.py'
]

data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'  # or --cfg-options data_root=... (default data/DeepLesion)
num_slices = 7
input_slice_interval = 2.0  # mm between the stacked slices, whatever the series' interval
window = (-1024, 2050)  # HU mapped to [-50, 205]
context_conv = dict(type='A3DConv')

model = dict(
    backbone=dict(num_slices=num_slices, context_conv=context_conv),
    neck=dict(reduction=dict(num_slices=num_slices)))

load_slices = dict(_base_.load_slices, num_slices=num_slices, input_slice_interval=input_slice_interval, window=window)
train_pipeline = [load_slices, *_base_.train_pipeline[1:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))

# The paper trained on 4 GPUs with BatchNorm across them: SyncBN whenever training is distributed (MMEngine converts
# the BN3d layers; a single process keeps plain BN). Distributed on CPU (gloo) has no SyncBN: set sync_bn=None.
sync_bn = 'torch'
