"""Saved detections (CSV, JSON, pickle) and their ground truth: what each reader returns, the errors naming the
file and row, the split and noisy-lesion selection, and the records the FROC is computed from."""
import json
import os
import os.path as osp
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from mmdet3dctx.evaluation.detection_results import (EvalError, build_records, find_ann_file, load_ground_truth,
                                                     read_results)

IMG0, IMG1 = '000001_01_01_010.png', '000002_01_01_020.png'
#: (file name, 0-based box, score): two images, three detections.
ROWS = [(IMG0, [0, 0, 9, 9], .9), (IMG1, [200, 200, 209.5, 209], .8), (IMG0, [50, 50, 59, 59], .3)]
EXPECTED = {IMG0: np.array([[0, 0, 9, 9, .9], [50, 50, 59, 59, .3]]), IMG1: np.array([[200, 200, 209.5, 209, .8]])}


def write_csv(path, rows=ROWS, header=True):
    lines = ['file_name,x1,y1,x2,y2,score'] if header else []
    lines += [','.join([name] + [f'{v:g}' for v in box + [score]]) for name, box, score in rows]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def assert_detections(got, expected=EXPECTED):
    assert sorted(got) == sorted(expected)
    for name, boxes in expected.items():
        np.testing.assert_allclose(got[name], boxes, rtol=0, atol=1e-6)
        assert got[name].shape == (len(boxes), 5) and got[name].dtype == np.float64


def test_every_format_reads_the_same_detections(tmp_path):
    import torch
    assert_detections(read_results(write_csv(tmp_path / 'header.csv')))
    assert_detections(read_results(write_csv(tmp_path / 'bare.csv', header=False)))
    objects = [dict(file_name=n, x1=b[0], y1=b[1], x2=b[2], y2=b[3], score=s) for n, b, s in ROWS]
    (tmp_path / 'objects.json').write_text(json.dumps(objects))
    assert_detections(read_results(str(tmp_path / 'objects.json')))
    (tmp_path / 'lists.json').write_text(json.dumps([[n, *b, s] for n, b, s in ROWS]))
    assert_detections(read_results(str(tmp_path / 'lists.json')))
    # tools/test.py --out: one sample per image, named by file_name or by its img_path
    samples = [dict(file_name=IMG0, pred_instances=dict(bboxes=torch.tensor([[0., 0, 9, 9], [50, 50, 59, 59]]),
                                                        scores=torch.tensor([.9, .3]))),
               dict(img_path='/data/Images_png/000002_01_01/020.png',
                    pred_instances=dict(bboxes=np.array([[200, 200, 209.5, 209]]), scores=np.array([.8])))]
    with open(tmp_path / 'samples.pkl', 'wb') as f:
        pickle.dump(samples, f)
    assert_detections(read_results(str(tmp_path / 'samples.pkl')))


@pytest.mark.parametrize('name,text,message', [
    ('short.csv', f'file_name,x1,y1,x2,y2,score\n{IMG0},1,2,3,4,0.5\n{IMG0},1,2,3\n',
     r'short\.csv, row 3: expected 6 cells file_name,x1,y1,x2,y2,score, got 4'),
    ('nan.csv', f'{IMG0},1,2,3,4,abc\n', r"nan\.csv, row 1: score 'abc' is not a number"),
    ('inf.csv', f'{IMG0},1,2,inf,4,0.5\n', r"inf\.csv, row 1: x2 is 'inf', not a finite number"),
    ('flip.csv', f'{IMG0},5,2,3,4,0.5\n', r'flip\.csv, row 1: box \(5.0, 2.0, 3.0, 4.0\) has x2 < x1 or y2 < y1'),
    ('noname.csv', ',1,2,3,4,0.5\n', r'noname\.csv, row 1: missing file_name'),
    ('bad.json', json.dumps([dict(file_name=IMG0, x1=0, y1=0, x2=9, score=.5)]),
     r"bad\.json, entry 0: missing \['y2'\]"),
    ('short.json', json.dumps([[IMG0, 0, 0, 9, 9]]),
     r'short\.json, entry 0: expected an object with file_name, x1, y1, x2, y2, score'),
    ('dict.json', json.dumps({'file_name': IMG0}), r'dict\.json: expected a list of detections'),
    ('broken.json', '[{', r'broken\.json: not valid JSON'),
    ('results.txt', '', r"results\.txt: unknown results format '\.txt' \(use \.pkl, \.csv or \.json\)"),
])
def test_malformed_results_name_the_file_and_row(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(EvalError, match=message):
        read_results(str(tmp_path / name))


def test_malformed_pickles_name_the_sample(tmp_path):
    def pickled(name, data):
        with open(tmp_path / name, 'wb') as f:
            pickle.dump(data, f)
        return str(tmp_path / name)

    boxes = dict(bboxes=np.zeros((1, 4)), scores=np.ones(1))
    with pytest.raises(EvalError, match=r'dict\.pkl: expected the list of data samples'):
        read_results(pickled('dict.pkl', {'a': 1}))
    with pytest.raises(EvalError, match=r'nopred\.pkl, sample 0: no pred_instances'):
        read_results(pickled('nopred.pkl', [dict(file_name=IMG0)]))
    with pytest.raises(EvalError, match=r'noname\.pkl, sample 0: neither file_name nor img_path'):
        read_results(pickled('noname.pkl', [dict(pred_instances=boxes)]))
    with pytest.raises(EvalError, match=rf'twice\.pkl, sample 1: {IMG0} appears twice'):
        read_results(pickled('twice.pkl', [dict(file_name=IMG0, pred_instances=boxes)] * 2))
    with pytest.raises(EvalError, match=rf'shapes\.pkl, sample 0 \({IMG0}\): malformed boxes/scores'):
        read_results(pickled('shapes.pkl', [dict(file_name=IMG0, pred_instances=dict(bboxes=np.zeros((2, 4)),
                                                                                       scores=np.ones(1)))]))
    (tmp_path / 'cut.pkl').write_bytes(b'\x80\x04\x95')
    with pytest.raises(EvalError, match=r'cut\.pkl: cannot unpickle'):
        read_results(str(tmp_path / 'cut.pkl'))
    with pytest.raises(EvalError, match=r'results file not found: .*nope\.csv'):
        read_results(str(tmp_path / 'nope.csv'))


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    """A synthetic DeepLesion tree with many noisy lesions, and its val split as the prepared COCO-style JSON."""
    from mmdet3dctx.datasets.deeplesion_coco import key_slices_to_coco
    from mmdet3dctx.datasets.dl_info import group_key_slices, read_dl_info
    from mmdet3dctx.testing import make_synthetic_deeplesion
    root = make_synthetic_deeplesion(str(tmp_path_factory.mktemp('DeepLesion')), num_patients=12, seed=0,
                                     image_size=64, noisy_prob=0.5)
    infos = group_key_slices(read_dl_info(osp.join(root, 'DL_info.csv')))
    for i, info in enumerate(infos):
        info['img_id'] = i + 1
    ann = osp.join(root, 'annotations', 'deeplesion_val.json')
    os.makedirs(osp.dirname(ann))
    with open(ann, 'w') as f:
        json.dump(key_slices_to_coco([info for info in infos if info['split'] == 2]), f)
    return root, infos


def test_ground_truth_keeps_the_split_without_noisy_lesions(tree):
    root, infos = tree
    csv_path = osp.join(root, 'DL_info.csv')
    assert find_ann_file(root, 'val') == csv_path == find_ann_file(root, 'all')
    for split, code in (('train', 1), ('val', 2), ('test', 3), ('all', None)):
        gt = load_ground_truth(csv_path, split)
        wanted = OrderedDict()
        for info in infos:
            clean = [ins for ins in info['instances'] if not ins['noisy']]
            if (code is None or info['split'] == code) and clean:
                wanted[info['file_name']] = [ins['bbox'] for ins in clean]
        assert list(gt) == list(wanted)
        assert {name: [ins['bbox'] for ins in info['instances']] for name, info in gt.items()} == wanted
    # the tree has both cases: noisy lesions beside clean ones (val), key slices with noisy lesions only (train)
    assert any(ins['noisy'] for info in infos if info['split'] == 2 for ins in info['instances'])
    noisy_only = [info['file_name'] for info in infos if all(ins['noisy'] for ins in info['instances'])]
    assert noisy_only and not set(noisy_only) & set(load_ground_truth(csv_path, 'train'))
    # the prepared JSON of the split gives the same ground truth as the CSV
    from_json = load_ground_truth(osp.join(root, 'annotations', 'deeplesion_val.json'), 'val')
    from_csv = load_ground_truth(csv_path, 'val')
    assert list(from_json) == list(from_csv)
    for name, info in from_csv.items():
        assert [i['bbox'] for i in from_json[name]['instances']] == [i['bbox'] for i in info['instances']]
        assert from_json[name]['slice_interval'] == info['slice_interval'] and from_json[name]['split'] == 2


def test_ground_truth_errors(tree, tmp_path):
    root, infos = tree
    with pytest.raises(EvalError, match=r'no annotation file in .*empty: looked for .*empty/DL_info\.csv, '
                       r'.*empty/annotations/deeplesion_test\.json'):
        find_ann_file(str(tmp_path / 'empty'), 'test')
    val_json = osp.join(root, 'annotations', 'deeplesion_val.json')
    with pytest.raises(EvalError, match=r'deeplesion_val\.json: no key slice with a non-noisy lesion in split '
                       r"'test'"):
        load_ground_truth(val_json, 'test')


def test_records_pair_detections_with_every_key_slice(tree):
    root, _ = tree
    gt = load_ground_truth(osp.join(root, 'DL_info.csv'), 'val')
    first, second = list(gt)[:2]
    dets = {second: np.array([[1., 2, 3, 4, .5]])}
    records = build_records(gt, dets, 'run.csv')
    assert [r['file_name'] for r in records] == list(gt)
    assert records[0]['dets'].shape == (0, 5) and records[0]['split'] == 2
    np.testing.assert_array_equal(records[1]['dets'], dets[second])
    np.testing.assert_array_equal(records[1]['gts'], [ins['bbox'] for ins in gt[second]['instances']])
    unknown = {f'{n:06d}_01_01_001.png': np.zeros((0, 5)) for n in range(900, 907)}
    with pytest.raises(EvalError, match=r'run\.csv: 7 image\(s\) not in the ground truth split: 000900_01_01_001\.png, '
                       r'.*000904_01_01_001\.png and 2 more$'):
        build_records(gt, dict(unknown, **dets), 'run.csv')
