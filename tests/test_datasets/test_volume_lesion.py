"""VolumeLesionDataset and LoadVolumeSlices on a small prepared volume dataset written in code."""
import json
import os
import os.path as osp

import numpy as np
import pytest

pytest.importorskip('mmdet')
import mmdet3dctx  # noqa: F401,E402  (registers the plugins)
from mmdet3dctx.datasets import LoadVolumeSlices, VolumeLesionDataset  # noqa: E402
from mmdet3dctx.datasets.volume_index import VolumeIndexError  # noqa: E402
from mmdet3dctx.inference.volume_slices import volume_slice_input  # noqa: E402
from mmdet3dctx.io import CTVolume  # noqa: E402
from mmdet3dctx.testing.volume_index import sphere_lesion_map, write_volume_index  # noqa: E402


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """Three cases: ``a`` (train, two lesions, a gap in its slice positions), ``b`` (train, lesion-free) and
    ``c`` (test, one lesion), HU random; negatives chosen by hand."""
    root = str(tmp_path_factory.mktemp('prepared'))
    rng = np.random.default_rng(0)
    shape_a = (12, 24, 20)
    map_a = sphere_lesion_map(shape_a, (2., 1., 1.), [(3, 8, 6), (8, 15, 12)], [6., 5.])
    pos_a = np.array([0., 2., 4., 6., 8., 10., 16., 18., 20., 22., 24., 26.])  # a gap of 6 mm after slice 5
    cases = [
        dict(case_id='a', split='train', lesion_map=map_a, spacing=(2., 1., 1.), positions=pos_a,
             hu=rng.integers(-1100, 1500, shape_a), origin=(-5., 3., 7.)),
        dict(case_id='b', split='train', lesion_map=np.zeros((6, 24, 20)), spacing=(5., .8, .8),
             hu=rng.integers(-1100, 1500, (6, 24, 20))),
        dict(case_id='c', split='test', lesion_map=sphere_lesion_map((7, 16, 16), (3., 1., 1.), [(3, 8, 8)], [5.]),
             spacing=(3., 1., 1.), hu=rng.integers(-1100, 1500, (7, 16, 16))),
    ]
    path = write_volume_index(root, cases)
    with open(path) as f:
        index = json.load(f)
    index['cases'][0]['negative_slices'] = [0, 11]
    index['cases'][1]['negative_slices'] = [2, 4]
    with open(path, 'w') as f:
        json.dump(index, f)
    return dict(root=root, index=index, maps=dict(a=map_a))


def test_training_samples_are_the_lesion_slices_and_the_negatives(prepared):
    ds = VolumeLesionDataset(data_root=prepared['root'], split='train', pipeline=[])
    case_a = prepared['index']['cases'][0]
    bearing = sorted({int(k) for les in case_a['lesions'] for k in les['slices']})
    expected = [('a', k) for k in sorted(set(bearing) | {0, 11})] + [('b', 2), ('b', 4)]
    assert [(ds[i]['case_id'], ds[i]['key_index']) for i in range(len(ds))] == expected
    for i in range(len(ds)):
        info = ds[i]
        boxes = {les['lesion_id']: les['slices'][str(info['key_index'])] for c in prepared['index']['cases']
                 if c['case_id'] == info['case_id'] for les in c['lesions'] if str(info['key_index']) in les['slices']}
        assert {ins['lesion_id']: ins['bbox'] for ins in info['instances']} == boxes
        assert all(ins['bbox_label'] == 0 and ins['ignore_flag'] == 0 for ins in info['instances'])
        assert info['img_path'] == osp.join(prepared['root'], 'cache', f'{info["case_id"]}.npy')
    # filter_empty_gt drops the negative slices, as MMDetection's datasets drop images without boxes
    kept = VolumeLesionDataset(data_root=prepared['root'], split='train', pipeline=[],
                               filter_cfg=dict(filter_empty_gt=True))
    assert [(kept[i]['case_id'], kept[i]['key_index']) for i in range(len(kept))] == [('a', k) for k in bearing]


def test_test_mode_has_every_slice_of_the_split(prepared):
    ds = VolumeLesionDataset(data_root=prepared['root'], split='test', test_mode=True, pipeline=[],
                             filter_cfg=dict(filter_empty_gt=True))
    assert [(ds[i]['case_id'], ds[i]['key_index']) for i in range(len(ds))] == [('c', k) for k in range(7)]
    les = prepared['index']['cases'][2]['lesions'][0]
    assert [len(ds[k]['instances']) for k in range(7)] == [int(str(k) in les['slices']) for k in range(7)]
    assert [ins['key_slice'] for ins in ds[les['key_slice']]['instances']] == [True]


def test_missing_cache_file_names_the_case(prepared, tmp_path):
    root = str(tmp_path / 'copy')
    os.makedirs(osp.join(root, 'cache'))
    with open(osp.join(root, 'volumes.json'), 'w') as f:
        json.dump(prepared['index'], f)
    with pytest.raises(VolumeIndexError, match=r'case a: cache file .*a\.npy not found'):
        VolumeLesionDataset(data_root=root, split='train', pipeline=[])
    with pytest.raises(VolumeIndexError, match='no case in the \'val\' split'):
        VolumeLesionDataset(data_root=prepared['root'], split='val', pipeline=[])


@pytest.mark.parametrize('num_slices,interval', [(7, 2.0), (3, 5.0), (9, None), (1, 2.0)])
def test_loader_input_equals_the_inference_input(prepared, num_slices, interval):
    ds = VolumeLesionDataset(data_root=prepared['root'], split='train', test_mode=True, pipeline=[])
    load = LoadVolumeSlices(num_slices=num_slices, input_slice_interval=interval, window=(-200, 300))
    case = prepared['index']['cases'][0]
    volume = CTVolume(np.load(osp.join(prepared['root'], case['cache'])), case['spacing'], case['positions'],
                      origin=np.array(case['origin']), direction=np.array(case['direction']))
    for i in range(len(ds)):
        info = ds[i]
        if info['case_id'] != 'a':
            continue
        out = load(info)
        expected = volume_slice_input(volume, info['key_index'], num_slices, interval, (-200, 300))
        assert out['img'].dtype == np.float32 and out['img'].shape == (24, 20, num_slices)
        np.testing.assert_array_equal(out['img'], expected)
        assert out['img_shape'] == out['ori_shape'] == (24, 20)
        assert out['input_slice_interval'] == (2.0 if interval is None else interval)


def test_loader_never_stacks_across_a_gap(prepared):
    ds = VolumeLesionDataset(data_root=prepared['root'], split='train', test_mode=True, pipeline=[])
    out = LoadVolumeSlices(num_slices=7, input_slice_interval=2.0)(ds[5])  # the last slice before the gap
    assert out['slice_positions'] == [2., 3., 4., 5., 5., 5., 5.]


def test_masks_are_the_lesion_map_on_the_key_slice(prepared):
    ds = VolumeLesionDataset(data_root=prepared['root'], split='train', pipeline=[])
    load = LoadVolumeSlices(num_slices=3, with_mask=True)
    seen = 0
    for i in range(len(ds)):
        out = load(ds[i])
        masks = out['gt_masks']
        assert len(masks) == len(out['instances']) and (masks.height, masks.width) == (24, 20)
        for m, ins in zip(masks.masks, out['instances']):
            np.testing.assert_array_equal(m.astype(bool), prepared['maps']['a'][out['key_index']] == ins['lesion_id'])
            ys, xs = np.nonzero(m)
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == ins['bbox']
            seen += 1
    assert seen > 0


def test_train_pipeline_packs_the_case_and_slice(prepared):
    pipeline = [dict(type='LoadVolumeSlices', num_slices=3, with_mask=True),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'), dict(type='PackCTInputs')]
    ds = VolumeLesionDataset(data_root=prepared['root'], split='train', pipeline=pipeline)
    sample = ds[1]
    assert tuple(sample['inputs'].shape) == (3, 24, 20)
    meta = sample['data_samples'].metainfo
    assert (meta['case_id'], meta['key_index']) == ('a', ds.get_data_info(1)['key_index'])
    gt = sample['data_samples'].gt_instances
    assert len(gt.bboxes) == len(gt.masks) == len(ds.get_data_info(1)['instances']) > 0
