# The paper detector `../deeplesion/a3d_7slice.py` (A3D, Mask R-CNN, 7 slices 2 mm apart, 20 epochs) trained on a
# prepared CT volume dataset; only the dataset differs (`../_base_/datasets/volumes.py`: the same pipelines with the
# volume loader, `VolumeLesionDataset`, `VolumeFROCMetric`). Fine-tuning a DeepLesion-trained detector:
#   python tools/train.py configs/volumes/a3d_7slice_finetune.py --cfg-options data_root=DST load_from=CKPT
# Without load_from the backbone starts from the ImageNet DenseNet-121, as the paper's training. Testing in 3D:
#   python tools/test.py configs/volumes/a3d_7slice_finetune.py CKPT --cfg-options data_root=DST
_base_ = '../deeplesion/a3d_7slice.py'

data_root = '{{$VOLUMES_ROOT:data/volumes}}'

# the dataset of ../_base_/datasets/volumes.py (a leaf inherits one detector; the dataset base's lines, same values)
load_slices = dict(type='LoadVolumeSlices', num_slices='${num_slices}',
                   input_slice_interval='${input_slice_interval}', window='${window}', out_range='${out_range}')
train_pipeline = [dict(load_slices, with_mask=True), dict(type='LoadAnnotations', with_bbox=True),
                  *_base_.train_pipeline[2:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
volume_dataset = dict(type='VolumeLesionDataset', data_root='${data_root}')
train_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='train', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='val', test_mode=True,
                                   pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='test', test_mode=True,
                                    pipeline=test_pipeline))
val_evaluator = dict(type='VolumeFROCMetric', data_root='${data_root}', _delete_=True)
test_evaluator = val_evaluator
