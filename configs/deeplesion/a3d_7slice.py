# A3D universal lesion detector (Asymmetric 3D Context Fusion, MICCAI 2021) in the paper's setting: DenseNet3D with
# A3D convolutions from ImageNet DenseNet-121, 7 slices 2 mm apart, Mask R-CNN, 20 epochs; the A3D paper's
# 7-slice column (every DenseNet3D operator config inherits this file). What a run may change is a top-level
# variable of `../_base_/datasets/deeplesion.py` (data_root, num_slices, input_slice_interval, window, ...).
_base_ = [
    '../_base_/models/mask_rcnn_densenet3d_a3d.py', '../_base_/datasets/deeplesion_mask.py',
    '../_base_/schedules/schedule_a3d_20e.py', '../_base_/default_runtime.py'
]

# The paper trained on 4 GPUs with BatchNorm across them: SyncBN whenever training is distributed (MMEngine converts
# the BN3d layers; a single process keeps plain BN). Distributed on CPU (gloo) has no SyncBN: set sync_bn=None.
sync_bn = 'torch'
