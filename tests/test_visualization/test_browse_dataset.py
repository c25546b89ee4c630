"""tools/browse_dataset.py and mmdet3dctx.visualization.browse_dataset on a small synthetic tree: one PNG per
sample, the ground-truth boxes drawn at the lesions' pixels of DL_info.csv."""
import os.path as osp

import cv2
import numpy as np
import pytest

pytest.importorskip('mmdet')

from mmdet3dctx.apis import read_config  # noqa: E402
from mmdet3dctx.datasets.dl_info import load_key_slices  # noqa: E402
from mmdet3dctx.visualization import browse_dataset  # noqa: E402
from mmdet3dctx.visualization.ct_sample import GT_BOX_COLOR  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')
TITLE, GAP, SIZE, SLICES = 14, 4, 128, 7


@pytest.fixture(scope='module')
def tree(tmp_path_factory, load_tool):
    out = str(tmp_path_factory.mktemp('tree') / 'dl')
    assert load_tool('make_synthetic_deeplesion').main(
        ['--out', out, '--num-patients', '4', '--seed', '3', '--image-size', str(SIZE)]) == 0
    return out


def train_dataset(cfg):
    ds = cfg.train_dataloader.dataset
    while 'pipeline' not in ds:
        ds = ds.dataset
    return ds


def key_panel(img):
    x0 = (SLICES // 2) * (SIZE + GAP)
    return img[TITLE:, x0:x0 + SIZE]


def test_boxes_drawn_at_the_lesions_of_dl_info(tree, tmp_path):
    """Without the random transforms, the drawn boxes are the CSV's (0-based) boxes, pixel for pixel."""
    cfg = read_config(CONFIG)
    ds = train_dataset(cfg)
    ds.data_root = tree
    ds.pipeline = [t for t in ds.pipeline if not t['type'].startswith('Random')]
    records = browse_dataset(cfg, output_dir=str(tmp_path / 'out'), show=False)
    truth = {k['file_name']: k for k in load_key_slices(osp.join(tree, 'DL_info.csv'), split='train')}
    assert len(records) == len(truth) > 0
    for rec in records:
        img = cv2.cvtColor(cv2.imread(rec['out_file']), cv2.COLOR_BGR2RGB)
        assert img.shape == (TITLE + SIZE, SLICES * SIZE + (SLICES - 1) * GAP, 3)
        boxes = np.array([i['bbox'] for i in truth[rec['file_name']]['instances']])
        np.testing.assert_allclose(rec['bboxes'], boxes, atol=1e-4)
        key = key_panel(img)
        green = np.all(key == GT_BOX_COLOR, axis=-1)
        for x1, y1, x2, y2 in np.round(boxes).astype(int):
            assert green[y1, x1:x2 + 1].all() and green[y2, x1:x2 + 1].all()  # top and bottom edges
            assert green[y1:y2 + 1, x1].all() and green[y1:y2 + 1, x2].all()  # left and right edges
        edges = np.zeros_like(green)
        for x1, y1, x2, y2 in np.round(boxes).astype(int):
            edges[y1, x1:x2 + 1] = edges[y2, x1:x2 + 1] = edges[y1:y2 + 1, x1] = edges[y1:y2 + 1, x2] = True
        assert not (green & ~edges).any()  # nothing else is box-coloured
        # the lesion is brighter than the body around the box on the key slice (windowed CT, not a blank panel)
        x1, y1, x2, y2 = np.round(boxes[0]).astype(int)
        assert key[y1 + 2:y2 - 1, x1 + 2:x2 - 1].std() > 0


def test_tool_runs_the_train_pipeline(tree, tmp_path, load_tool):
    tool = load_tool('browse_dataset')
    out = tmp_path / 'browse'
    records = tool.main([CONFIG, '--output-dir', str(out), '--not-show', '--num-samples', '3',
                         '--cfg-options', f'data_root={tree}'])
    assert len(records) == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(r['file_name'] for r in records)
    for rec in records:
        img = cv2.cvtColor(cv2.imread(rec['out_file']), cv2.COLOR_BGR2RGB)
        green = np.all(key_panel(img) == GT_BOX_COLOR, axis=-1)
        for x1, y1, x2, y2 in np.round(rec['bboxes']).astype(int):  # after flip/shift/scale/rotate
            if 0 <= x1 and 0 <= y1 and x2 < SIZE and y2 < SIZE:
                assert green[y1, x1:x2 + 1].all() and green[y1:y2 + 1, x1].all()
    with pytest.raises(SystemExit, match='--output-dir'):
        tool.main([CONFIG, '--not-show'])
