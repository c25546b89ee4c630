# The demo A3D detector (configs/demo/a3d_7slice_synthetic.py, 7 slices, 1 lesion class) fine-tuned from the
# pseudo-3D COCO pretraining demo (configs/demo/a3d_coco_pseudo3d_synthetic.py, 3 slices, 80 classes). Chain:
#   python tools/make_synthetic_coco.py --out data/synthetic/coco_shapes_128px --num-train 64 --num-val 16 \
#       --image-size 128
#   python tools/train.py configs/demo/a3d_coco_pseudo3d_synthetic.py
#   python tools/transfer_weights.py work_dirs/a3d_coco_pseudo3d_synthetic/epoch_6.pth \
#       --config configs/demo/a3d_7slice_finetune_synthetic.py \
#       --out work_dirs/a3d_coco_pseudo3d_synthetic/a3d_7slice_from_coco.pth
#   python tools/train.py configs/demo/a3d_7slice_finetune_synthetic.py
# (3 -> 7 slices by centre inflation: A3D matrices embedded in identities, reduction taps on the central slices;
# the classification, box regression and mask logits layers are re-initialised for the one lesion class.)
_base_ = './a3d_7slice_synthetic.py'

load_from = 'work_dirs/a3d_coco_pseudo3d_synthetic/a3d_7slice_from_coco.pth'
