# MP3D's supervised pseudo-3D pretraining on COCO 2017: the MP3D-63 backbone (P3D bottlenecks, GN 32) + GTM
# 3D->2D on every level + FPN Mask R-CNN, trained on 3-slice volumes made of the R, G, B channels of COCO
# images (80 classes), 72 epochs as in the paper (SGD 0.02 for a batch of 16; the paper gives the length only:
# the steps at 48 and 66 are the MP3D lesion schedule's 16 and 22 of 24, scaled).
# Its weights then initialise the lesion detector (configs/deeplesion/mp3d63_9slice.py reads them as `load_from`):
#   python tools/transfer_weights.py work_dirs/mp3d63_coco_pseudo3d/epoch_72.pth \
#       --config configs/deeplesion/mp3d63_9slice.py --out checkpoints/mp3d63_9slice_from_coco.pth
# (3 -> 9 slices: the GTM group weights by centre inflation; 80 -> 1 class: the class layers re-initialised).
# Another COCO-format folder: --cfg-options data_root=/path/to/coco/ (the datasets and the evaluator follow).
_base_ = [
    '_base_/mask_rcnn_mp3d63_gtm_fpn_coco80.py', '../_base_/schedules/schedule_mp3d_24e.py',
    '../_base_/default_runtime.py', '_base_/coco_pseudo3d_instance.py'
]

max_epochs = 72
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[48, 66], gamma=0.1)
]

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='coco/bbox_mAP', rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=16)
