# A prepared CT volume dataset (`python tools/prepare_volumes.py SRC --out DST`: volumes.json + a memory-mapped
# cache, docs/own_data.md) in the place of DeepLesion: the pipelines of `deeplesion_mask.py` (the A3D setting: 7
# slices 2 mm apart, window [-1024, 2050] -> [-50, 205], 512 px, flip, shift/scale/rotate) with the volume loader
# (`LoadVolumeSlices`: the neighbours at their positions in mm, as inference takes them; masks from the lesion map)
# and `VolumeLesionDataset` (training: the lesion-bearing slices and the index's negative slices; val/test: every
# slice of every case, linked into 3D findings and scored per volume by `VolumeFROCMetric`, with the 2D key-slice
# FROC beside it). The same top-level variables as the DeepLesion bases (num_slices, input_slice_interval, window,
# out_range, img_scale, data_root), e.g. `--cfg-options data_root=DST`.
_base_ = './deeplesion_mask.py'

data_root = '{{$VOLUMES_ROOT:data/volumes}}'  # env VOLUMES_ROOT, else data/volumes: a tools/prepare_volumes.py --out

load_slices = dict(type='LoadVolumeSlices', num_slices='${num_slices}',
                   input_slice_interval='${input_slice_interval}', window='${window}', out_range='${out_range}')
# DeepLesion's train pipeline: its loader and mask loading replaced by the volume loader with the lesion-map masks
train_pipeline = [
    dict(load_slices, with_mask=True),
    dict(type='LoadAnnotations', with_bbox=True),
    *_base_.train_pipeline[2:],
]
test_pipeline = [load_slices, *_base_.test_pipeline[1:]]

volume_dataset = dict(type='VolumeLesionDataset', data_root='${data_root}')
train_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='train', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='val', test_mode=True,
                                   pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(volume_dataset, _delete_=True, split='test', test_mode=True,
                                    pipeline=test_pipeline))

# 3D FROC per volume (LUNA16's CPM) of the linked findings, and the DeepLesion FROC on the lesions' key slices
val_evaluator = dict(type='VolumeFROCMetric', data_root='${data_root}', _delete_=True)
test_evaluator = val_evaluator
