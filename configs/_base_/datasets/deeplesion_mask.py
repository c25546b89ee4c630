# DeepLesion with pseudo-masks for Mask R-CNN (A3D): reads the JSON of
# `python tools/prepare_deeplesion.py --data-root $DEEPLESION_ROOT` (GrabCut masks from the RECIST marks).
# Without it, set `ann_file = 'DL_info.csv'` and `ellipse_masks = True` (ellipses fitted to the RECIST axes).
_base_ = './deeplesion.py'

ann_files = dict(
    train='annotations/deeplesion_train.json',
    val='annotations/deeplesion_val.json',
    test='annotations/deeplesion_test.json')
ellipse_masks = False

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices={{_base_.num_slices}}, slice_interval={{_base_.slice_interval}},
         window={{_base_.window}}, out_range={{_base_.out_range}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False),
    dict(type='Resize', scale={{_base_.img_scale}}, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomShiftScaleRotate', shift_limit=0.04, scale_limit=0.2, rotate_limit=15, prob=0.8,
         border_value=-50),
    dict(type='RandomDepthFlip', prob={{_base_.depth_flip_prob}}),
    dict(type='Pad', size_divisor=32, pad_val=dict(img=0.0, seg=255)),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]

train_dataloader = dict(
    dataset=dict(ann_file=ann_files['train'], ellipse_masks=ellipse_masks, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(ann_file=ann_files['val'], ellipse_masks=ellipse_masks))
test_dataloader = dict(dataset=dict(ann_file=ann_files['test'], ellipse_masks=ellipse_masks))
