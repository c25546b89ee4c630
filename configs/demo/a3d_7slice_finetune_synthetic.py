# The A3D demo fine-tuned (no ImageNet weights) from the pseudo-3D COCO pretraining demo a3d_coco_pseudo3d_synthetic.py,
# its checkpoint moved to 7 slices and 1 class by tools/transfer_weights.py (the chain: configs/pretrain/README.md).
_base_ = './a3d_7slice_synthetic.py'

load_from = 'work_dirs/a3d_coco_pseudo3d_synthetic/a3d_7slice_from_coco.pth'
