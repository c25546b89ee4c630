import json
import os
import os.path as osp

import numpy as np
import pytest

from mmdet3dctx.datasets.deeplesion_coco import load_coco_key_slices
from mmdet3dctx.datasets.dl_info import load_key_slices
from mmdet3dctx.testing import make_synthetic_deeplesion


@pytest.fixture
def tool(load_tool):
    return load_tool('prepare_deeplesion')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_synthetic_deeplesion(str(tmp_path_factory.mktemp('dl')), num_patients=8, seed=5, image_size=256)


def _outputs(root):
    return {s: osp.join(root, 'annotations', f'deeplesion_{s}.json') for s in ('train', 'val', 'test')}


@pytest.mark.parametrize('method', ['ellipse', 'grabcut'])
def test_writes_every_split_with_csv_boxes_and_masks_inside(root, tmp_path, method, capsys, tool):
    out_dir = str(tmp_path / method)
    assert tool.main(['--data-root', root, '--masks', method, '--out-dir', out_dir]) == 0
    printed = capsys.readouterr().out
    assert 'GrabCut found nothing for' in printed if method == 'grabcut' else 'ellipse' in printed
    csv_infos = load_key_slices(osp.join(root, 'DL_info.csv'), skip_noisy=False)
    for code, split in ((1, 'train'), (2, 'val'), (3, 'test')):
        infos = load_coco_key_slices(osp.join(out_dir, f'deeplesion_{split}.json'))
        expected = [i for i in csv_infos if i['split'] == code]
        assert [i['file_name'] for i in infos] == [i['file_name'] for i in expected]
        for a, b in zip(infos, expected):
            assert [ins['bbox'] for ins in a['instances']] == [ins['bbox'] for ins in b['instances']]
            assert [ins['noisy'] for ins in a['instances']] == [ins['noisy'] for ins in b['instances']]
            for ins in a['instances']:
                x1, y1, x2, y2 = ins['bbox']
                assert ins['mask'] and ins['mask_method'] in ('grabcut', 'ellipse', 'ellipse_fallback')
                for poly in ins['mask']:
                    pts = np.asarray(poly).reshape(-1, 2)
                    assert len(pts) >= 3
                    assert (pts[:, 0] >= x1 - 1e-9).all() and (pts[:, 0] <= x2 + 1e-9).all()
                    assert (pts[:, 1] >= y1 - 1e-9).all() and (pts[:, 1] <= y2 + 1e-9).all()
    with open(osp.join(out_dir, 'deeplesion_train.json')) as f:
        coco = json.load(f)
    methods = {a['mask_method'] for a in coco['annotations']}
    assert methods == {'ellipse'} if method == 'ellipse' else 'grabcut' in methods


def test_grabcut_count_line_matches_the_json(root, tmp_path, capsys, tool):
    out_dir = str(tmp_path / 'gc')
    summary = tool.prepare(root, out_dir=out_dir, masks='grabcut')
    fallbacks = 0
    for path in summary['outputs'].values():
        with open(path) as f:
            fallbacks += sum(a['mask_method'] == 'ellipse_fallback' for a in json.load(f)['annotations'])
    assert summary['fallbacks'] == fallbacks
    assert sum(summary['masks'].values()) == sum(summary['lesions'].values())


def test_parallel_workers_give_the_same_files(root, tmp_path, tool):
    tool = tool
    one = tool.prepare(root, out_dir=str(tmp_path / 'w1'), masks='grabcut', workers=1)
    two = tool.prepare(root, out_dir=str(tmp_path / 'w2'), masks='grabcut', workers=2)
    for split in ('train', 'val', 'test'):
        with open(one['outputs'][split]) as f1, open(two['outputs'][split]) as f2:
            assert f1.read() == f2.read()


def test_never_overwrites_without_force(root, tmp_path, capsys, tool):
    tool = tool
    out_dir = str(tmp_path / 'o')
    os.makedirs(out_dir)
    user_file = osp.join(out_dir, 'deeplesion_val.json')
    with open(user_file, 'w') as f:
        f.write('mine')
    assert tool.main(['--data-root', root, '--masks', 'ellipse', '--out-dir', out_dir]) == 1
    assert 'pass --force' in capsys.readouterr().err
    with open(user_file) as f:
        assert f.read() == 'mine'
    assert not osp.exists(osp.join(out_dir, 'deeplesion_train.json'))
    assert tool.main(['--data-root', root, '--masks', 'ellipse', '--out-dir', out_dir, '--force']) == 0
    assert load_coco_key_slices(user_file)


def test_default_output_folder(root, tool):
    assert tool.main(['--data-root', root, '--masks', 'ellipse']) == 0
    for path in _outputs(root).values():
        assert osp.isfile(path)


def test_missing_key_slice_names_the_row(tmp_path, capsys, tool):
    root = make_synthetic_deeplesion(str(tmp_path / 'dl'), num_patients=2, seed=0, image_size=64)
    info = load_key_slices(osp.join(root, 'DL_info.csv'))[0]
    os.remove(osp.join(root, info['img_path']))
    assert tool.main(['--data-root', root, '--masks', 'grabcut']) == 1
    err = capsys.readouterr().err
    assert f'row {info["rows"][0]} ({info["file_name"]}): key slice PNG not found' in err
