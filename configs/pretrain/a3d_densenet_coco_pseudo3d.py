# COCO 2017 as pseudo-3D pretraining for the A3D detector: DenseNet3D (truncated DenseNet-121) with A3D
# convolutions on 3-slice volumes made of the R, G, B channels of COCO images, D x 1 x 1 reduction, top-down
# fusion to one stride-4 map, Mask R-CNN with 80 classes; the A3D schedule (SGD 0.02, 20 epochs, steps at 9
# and 16). The backbone may start from ImageNet: set `imagenet_checkpoint` to torchvision's DenseNet-121
# (https://download.pytorch.org/models/densenet121-a639ec97.pth, or a local copy); its RGB stem is summed to grey.
# Then: python tools/transfer_weights.py work_dirs/a3d_densenet_coco_pseudo3d/epoch_20.pth \
#           --config configs/deeplesion/a3d_7slice.py --out checkpoints/a3d_7slice_from_coco.pth
# Another COCO-format folder: --cfg-options data_root=/path/to/coco/ (the datasets and the evaluator follow).
_base_ = [
    '_base_/mask_rcnn_densenet3d_a3d_coco80.py', '../_base_/schedules/schedule_a3d_20e.py',
    '../_base_/default_runtime.py', '_base_/coco_pseudo3d_instance.py'
]

imagenet_checkpoint = None  # URL or local path of torchvision's DenseNet-121 checkpoint, or None
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained2D', checkpoint=imagenet_checkpoint, rgb_to_grey='sum')
                  if imagenet_checkpoint else None))

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='coco/bbox_mAP', rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=8)
