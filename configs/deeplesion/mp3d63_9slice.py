# MP3D FPN (Zhang et al., MICCAI 2020, "Revisiting 3D Context Modeling with Supervised Pre-training for Universal
# Lesion Detection in CT Slices"): modified P3D ResNet-63 (GN 32) + GTM + FPN, 9 slices 2.5 mm apart, 24 epochs,
# fp16 on GPU, starting from the COCO pseudo-3D pretraining (configs/pretrain/mp3d63_coco_pseudo3d.py).
_base_ = [
    '../_base_/models/faster_rcnn_mp3d63_fpn.py', '../_base_/datasets/deeplesion_mp3d.py',
    '../_base_/schedules/schedule_mp3d_24e.py', '../_base_/default_runtime.py'
]

# As in the paper, the whole detector starts from MP3D's COCO pseudo-3D pretraining (3 slices, 80 classes), made
# once by configs/pretrain/mp3d63_coco_pseudo3d.py and moved to 9 slices and 1 class by
#   python tools/transfer_weights.py work_dirs/mp3d63_coco_pseudo3d/epoch_72.pth \
#       --config configs/deeplesion/mp3d63_9slice.py --out checkpoints/mp3d63_9slice_from_coco.pth
# Another file: --cfg-options load_from=/path/to/file.pth; from scratch: --cfg-options load_from=None.
load_from = 'checkpoints/mp3d63_9slice_from_coco.pth'

# fp16 with a dynamic loss scale on GPU, as the paper trained. Without a GPU tools/train.py runs bf16 autocast
# instead; float32: --cfg-options optim_wrapper.type=OptimWrapper
optim_wrapper = dict(type='AmpOptimWrapper')
