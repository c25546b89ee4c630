import math
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet.registry import DATASETS
from mmdet3dctx.apis import read_config
from mmdet3dctx.datasets import DeepLesionDataset, DLInfoError
from mmdet3dctx.datasets.deeplesion_coco import key_slices_to_coco
from mmdet3dctx.datasets.dl_info import group_key_slices, load_key_slices, read_dl_info
from mmdet3dctx.testing import make_synthetic_deeplesion
from mmdet3dctx.testing.deeplesion_files import row, write_constant_series, write_csv

REPO = osp.join(osp.dirname(__file__), '..', '..')
CONFIGS = osp.join(REPO, 'configs', '_base_', 'datasets')


@pytest.fixture()
def small_tree(tmp_path):
    """Two train key slices (one only noisy), one val, one test, with PNGs."""
    rows = [
        row(key=10, patient=1),
        row(key=10, patient=1, Bounding_boxes='2, 3, 12, 13', Measurement_coordinates='4, 8, 10, 8, 7, 5, 7, 11'),
        row(key=12, patient=1, Possibly_noisy=1),
        row(key=10, patient=2, Train_Val_Test=2, Coarse_lesion_type=4, Spacing_mm_px_='0.8, 0.8, nan'),
        row(key=10, patient=3, Train_Val_Test=3, Coarse_lesion_type=1),
    ]
    write_csv(tmp_path / 'DL_info.csv', rows)
    for p in (1, 2, 3):
        write_constant_series(str(tmp_path), f'{p:06d}_01_01', 5, 15, lambda i: 10 * i)
    return str(tmp_path)


def _build(root, **kwargs):
    cfg = dict(type='DeepLesionDataset', data_root=root, pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_reads_the_csv_by_split(small_tree):
    train = _build(small_tree, split='train')
    assert isinstance(train, DeepLesionDataset) and len(train) == 1
    assert train.metainfo['classes'] == ('lesion', )
    info = train.get_data_info(0)
    assert info['img_path'] == osp.join(small_tree, 'Images_png/000001_01_01/010.png')
    assert info['file_name'] == '000001_01_01_010.png' and info['img_id'] == 1
    assert info['key_slice'] == 10 and info['slice_range'] == (5, 15) and info['slice_interval'] == 2.5
    assert [ins['bbox'] for ins in info['instances']] == [[15.0, 20.0, 45.0, 40.0], [1.0, 2.0, 11.0, 12.0]]
    assert info['instances'][0]['diameters_mm'] == pytest.approx((16.0, 8.0))
    assert len(_build(small_tree, split='train', skip_noisy=False)) == 2
    val = _build(small_tree, split='val', test_mode=True)
    assert len(val) == 1 and math.isnan(val.get_data_info(0)['slice_interval'])
    assert val.get_data_info(0)['img_id'] == 3  # rank of the key slice in the whole CSV
    assert len(_build(small_tree, split='test')) == 1
    assert len(_build(small_tree, split=None)) == 3


def test_missing_key_slice_names_file_and_row(small_tree):
    os.remove(osp.join(small_tree, 'Images_png/000002_01_01/010.png'))
    with pytest.raises(DLInfoError, match=r'DL_info.csv, row 5 \(000002_01_01_010.png\): key slice PNG not found'):
        _build(small_tree, split='val')
    assert len(_build(small_tree, split='val', check_files=False)) == 1


def test_json_gives_identical_infos_plus_masks(small_tree):
    import json
    infos = group_key_slices(read_dl_info(osp.join(small_tree, 'DL_info.csv')))
    for i, info in enumerate(infos):
        info['img_id'] = i + 1
    masks = {(1, 0): dict(segmentation=[[20.0, 25.0, 40.0, 25.0, 30.0, 35.0]], area=100.0, how='grabcut')}
    os.makedirs(osp.join(small_tree, 'annotations'))
    with open(osp.join(small_tree, 'annotations', 'all.json'), 'w') as f:
        json.dump(key_slices_to_coco(infos, masks), f)
    for split in ('train', 'val', 'test'):
        a = _build(small_tree, split=split)
        b = _build(small_tree, split=split, ann_file='annotations/all.json')
        assert len(a) == len(b)
        for i in range(len(a)):
            ia, ib = a.get_data_info(i), b.get_data_info(i)
            assert ia['img_path'] == ib['img_path'] and ia['img_id'] == ib['img_id']
            assert [x['bbox'] for x in ia['instances']] == [x['bbox'] for x in ib['instances']]
    b = _build(small_tree, split='train', ann_file='annotations/all.json')
    assert b.get_data_info(0)['instances'][0]['mask'] == [[20.0, 25.0, 40.0, 25.0, 30.0, 35.0]]


def test_ellipse_masks_from_the_csv(small_tree):
    ds = _build(small_tree, split='train', ellipse_masks=True)
    for ins in ds.get_data_info(0)['instances']:
        pts = np.asarray(ins['mask'][0]).reshape(-1, 2)
        x1, y1, x2, y2 = ins['bbox']
        assert (pts[:, 0] >= x1).all() and (pts[:, 0] <= x2).all() and (pts[:, 1] >= y1).all()
        assert (pts[:, 1] <= y2).all()


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    return make_synthetic_deeplesion(str(tmp_path_factory.mktemp('syn')), num_patients=6, seed=2, image_size=128)


def _dataset_from_config(name, root, loader='train_dataloader'):
    cfg = read_config(osp.join(CONFIGS, name))
    ds = cfg[loader].dataset
    ds.data_root = root
    return DATASETS.build(ds), cfg


def test_config_train_pipeline_end_to_end(synthetic):
    ds, cfg = _dataset_from_config('deeplesion.py', synthetic)
    assert cfg.num_slices == 7 and cfg.input_slice_interval == 2.0 and tuple(cfg.window) == (-1024, 2050)
    out = ds[0]
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs.dtype == torch.float32 and tuple(inputs.shape) == (7, 512, 512)
    assert inputs.min() >= -50 and inputs.max() <= 205
    info = ds.get_data_info(0)
    assert sample.file_name == info['file_name'] and sample.img_id == info['img_id']
    assert sample.slice_interval == info['slice_interval']
    assert [i['bbox'] for i in sample.instances] == [i['bbox'] for i in info['instances']]
    assert {'lesion_type', 'diameters_mm', 'noisy'} <= set(sample.instances[0])
    assert len(sample.gt_instances.bboxes) <= len(info['instances'])


def test_config_test_pipeline_keeps_original_boxes(synthetic):
    ds, _ = _dataset_from_config('deeplesion.py', synthetic, 'test_dataloader')
    out = ds[0]
    info = ds.get_data_info(0)
    sample = out['data_samples']
    assert tuple(out['inputs'].shape) == (7, 512, 512)
    assert sample.scale_factor == (4.0, 4.0) and sample.ori_shape == (128, 128) and not sample.get('flip', False)
    np.testing.assert_allclose(sample.gt_instances.bboxes.numpy(), [i['bbox'] for i in info['instances']], atol=1e-4)
    # The key slice is the middle one: the test pipeline is deterministic, so it equals the windowed PNG resized.
    import cv2
    hu = cv2.imread(info['img_path'], cv2.IMREAD_UNCHANGED).astype(np.float32) - 32768
    key = np.clip(-50 + (hu + 1024) * 255 / 3074, -50, 205)
    np.testing.assert_allclose(out['inputs'][3].numpy(), cv2.resize(key, (512, 512)), atol=1e-3)


def test_mask_and_mp3d_configs(synthetic, tmp_path):
    ds, cfg = _dataset_from_config('deeplesion_mp3d.py', synthetic)
    assert cfg.num_slices == 9 and cfg.input_slice_interval == 2.5 and tuple(cfg.window) == (-1024, 1050)
    out = ds[0]
    assert out['inputs'].shape[0] == 9 and out['inputs'].shape[1] in (448, 512, 576)
    cfg = read_config(osp.join(CONFIGS, 'deeplesion_mask.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=synthetic, ann_file='DL_info.csv', ellipse_masks=True)
    out = DATASETS.build(ds_cfg)[0]
    masks = out['data_samples'].gt_instances.masks
    assert len(masks) == len(out['data_samples'].gt_instances.bboxes) and masks.height == out['inputs'].shape[1]


def test_data_root_from_environment(monkeypatch):
    monkeypatch.setenv('DEEPLESION_ROOT', '/somewhere/DeepLesion')
    cfg = read_config(osp.join(CONFIGS, 'deeplesion.py'))
    assert cfg.data_root == '/somewhere/DeepLesion'
    assert cfg.test_dataloader.dataset.data_root == '/somewhere/DeepLesion'
    monkeypatch.delenv('DEEPLESION_ROOT')
    assert read_config(osp.join(CONFIGS, 'deeplesion.py')).data_root == 'data/DeepLesion'


def test_load_key_slices_agrees_with_the_dataset(synthetic):
    csv_infos = load_key_slices(osp.join(synthetic, 'DL_info.csv'), split='test')
    ds = _build(synthetic, split='test')
    assert [i['file_name'] for i in csv_infos] == [ds.get_data_info(i)['file_name'] for i in range(len(ds))]


def test_empty_split_is_a_clear_error(tmp_path):
    write_csv(tmp_path / 'DL_info.csv', [row(key=10), row(key=12, Train_Val_Test=3, Possibly_noisy=1)])
    write_constant_series(str(tmp_path), '000001_01_01', 5, 15, lambda i: 0)
    with pytest.raises(ValueError, match=r"DL_info.csv: no key slice in split 'test' with a lesion not flagged"):
        _build(str(tmp_path), split='test')
    assert len(_build(str(tmp_path), split='test', skip_noisy=False)) == 1
