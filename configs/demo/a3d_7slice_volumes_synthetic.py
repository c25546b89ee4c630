# The A3D demo (`a3d_7slice_synthetic.py`: the shrunk A3D detector, 128 px, soft-tissue window) on a prepared volume
# dataset instead of the synthetic DeepLesion tree: the dataset swapped as `../volumes/a3d_7slice_finetune.py` swaps
# it (`VolumeLesionDataset`, `LoadVolumeSlices`, `VolumeFROCMetric`). tools/train.py and tools/test.py make the
# dataset when data_root holds none (generated Decathlon-style volumes, `make_synthetic_msd` with `synthetic_volumes`,
# prepared with tools/prepare_volumes.py's code). On a CPU:
#   python tools/train.py configs/demo/a3d_7slice_volumes_synthetic.py
#   python tools/test.py configs/demo/a3d_7slice_volumes_synthetic.py \
#       work_dirs/a3d_7slice_volumes_synthetic/epoch_4.pth
_base_ = './a3d_7slice_synthetic.py'

data_root = 'data/synthetic/volumes_msd10'
synthetic = None  # no DeepLesion tree
# the generated Decathlon task (10 labelled cases of 96 px, lesion label 2) and its preparation (seeded split: 6
# train cases, 78 training slices; 2 val, 2 test cases)
synthetic_volumes = dict(num_cases=10, seed=0, size=96, split=(0.6, 0.2, 0.2))

load_slices = dict(type='LoadVolumeSlices', num_slices='${num_slices}',
                   input_slice_interval='${input_slice_interval}', window='${window}', out_range='${out_range}')
train_pipeline = [dict(load_slices, with_mask=True), dict(type='LoadAnnotations', with_bbox=True),
                  *_base_.train_pipeline[2:]]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]
volume_dataset = dict(type='VolumeLesionDataset', data_root='${data_root}')
train_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='train', pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='test', test_mode=True,
                                    pipeline=test_pipeline))
test_evaluator = dict(type='VolumeFROCMetric', data_root='${data_root}', _delete_=True)

# 4 epochs of 20 iterations, one step at epoch 3
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [dict(_base_.param_scheduler[0], end=30),
                   dict(_base_.param_scheduler[1], end=max_epochs, milestones=[3])]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
