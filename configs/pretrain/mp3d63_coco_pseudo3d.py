# MP3D's supervised pseudo-3D pretraining on COCO 2017: the MP3D-63 backbone (P3D bottlenecks, GN 32) + GTM
# 3D->2D on every level + FPN Mask R-CNN, trained on 3-slice volumes made of the R, G, B channels of COCO
# images (80 classes). The 24-epoch MP3D schedule (SGD 0.02 for a batch of 16, steps at 16 and 22).
# Its weights then initialise lesion detectors with any slice count:
#   python tools/transfer_weights.py work_dirs/mp3d63_coco_pseudo3d/epoch_24.pth \
#       --config configs/deeplesion/mp3d63_9slice.py --out checkpoints/mp3d63_9slice_from_coco.pth
# and `load_from = 'checkpoints/mp3d63_9slice_from_coco.pth'` in the lesion config.
# data_root: override it here and in val_evaluator.ann_file (the evaluator reads the JSON directly).
_base_ = [
    '_base_/mask_rcnn_mp3d63_gtm_fpn_coco80.py', '../_base_/schedules/schedule_mp3d_24e.py',
    '../_base_/default_runtime.py', '_base_/coco_pseudo3d_instance.py'
]

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='coco/bbox_mAP', rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=16)
