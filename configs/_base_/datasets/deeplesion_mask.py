# DeepLesion with pseudo-masks for Mask R-CNN (A3D / AlignShift): the data of `deeplesion.py` with the GrabCut masks
# of `python tools/prepare_deeplesion.py --data-root $DEEPLESION_ROOT` (JSON per split). Without them: `ann_file=
# 'DL_info.csv'` in the three datasets and `ellipse_masks = True` (ellipses fitted to the RECIST axes, training).
_base_ = './deeplesion.py'

ann_files = dict(
    train='annotations/deeplesion_train.json',
    val='annotations/deeplesion_val.json',
    test='annotations/deeplesion_test.json')
ellipse_masks = False

# the box pipeline with masks loaded
train_pipeline = [
    _base_.load_slices,
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False),
    *_base_.train_pipeline[2:],
]

train_dataloader = dict(
    dataset=dict(ann_file=ann_files['train'], ellipse_masks='${ellipse_masks}', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(ann_file=ann_files['val']))
test_dataloader = dict(dataset=dict(ann_file=ann_files['test']))
