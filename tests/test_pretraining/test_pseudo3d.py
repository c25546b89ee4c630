"""COCO as pseudo-3D: RGBToPseudo3D, the synthetic COCO-format set and the pretraining configs."""
import hashlib
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmdet3dctx.apis import read_config
from mmdet3dctx.testing import make_synthetic_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    make_synthetic_coco(str(root), num_train=6, num_val=2, image_size=64, seed=3)
    return str(root) + '/'


def test_transform_values_and_order():
    t = TRANSFORMS.build(dict(type='RGBToPseudo3D'))
    img = np.random.RandomState(0).randint(0, 256, (5, 7, 3)).astype(np.uint8)  # B, G, R as loaded
    out = t(dict(img=img.copy()))
    assert out['img'].dtype == np.float32 and out['img'].shape == (5, 7, 3)
    np.testing.assert_array_equal(out['img'], img[..., ::-1].astype(np.float32))  # slices R, G, B
    assert out['slice_order'] == ('R', 'G', 'B') and out['input_slice_interval'] == 2.0
    # the same normalisation for every slice
    t = TRANSFORMS.build(dict(type='RGBToPseudo3D', in_order='rgb', mean=10., std=4.))
    out = t(dict(img=img.copy()))
    np.testing.assert_allclose(out['img'], (img.astype(np.float32) - 10) / 4, rtol=1e-6)
    assert out['slice_order'] == ('R', 'G', 'B')


def test_random_order_is_a_permutation():
    t = TRANSFORMS.build(dict(type='RGBToPseudo3D', random_order=True))
    img = np.stack([np.full((2, 2), v, np.uint8) for v in (30, 20, 10)], -1)  # B=30, G=20, R=10
    value = dict(R=10., G=20., B=30.)
    np.random.seed(0)
    seen = set()
    for _ in range(40):
        out = t(dict(img=img.copy()))
        assert sorted(out['slice_order']) == ['B', 'G', 'R']
        assert out['img'][0, 0].tolist() == [value[c] for c in out['slice_order']]
        seen.add(out['slice_order'])
    assert len(seen) == 6


def test_transform_errors():
    with pytest.raises(ValueError, match='in_order'):
        TRANSFORMS.build(dict(type='RGBToPseudo3D', in_order='hsv'))
    with pytest.raises(ValueError, match='one number for every slice'):
        TRANSFORMS.build(dict(type='RGBToPseudo3D', mean=[1, 2, 3]))
    with pytest.raises(ValueError, match=r'\(H, W, 3\).*a.png'):
        TRANSFORMS.build(dict(type='RGBToPseudo3D'))(dict(img=np.zeros((4, 4), np.uint8), img_path='a.png'))


def test_synthetic_coco_deterministic_and_valid(tmp_path):
    a = make_synthetic_coco(str(tmp_path / 'a'), num_train=3, num_val=1, image_size=64, seed=5)
    make_synthetic_coco(str(tmp_path / 'b'), num_train=3, num_val=1, image_size=64, seed=5)

    def digest(root):
        files = [f'annotations/instances_{s}2017.json' for s in ('train', 'val')]
        files += [f'train2017/{i:012d}.png' for i in (1, 2, 3)] + ['val2017/000000000004.png']
        return [hashlib.md5(open(osp.join(root, f), 'rb').read()).hexdigest() for f in files]

    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    ann = json.load(open(a['train']))
    assert len(ann['categories']) == 80 and ann['categories'][-1] == dict(id=90, name='toothbrush',
                                                                           supercategory='synthetic')
    from pycocotools import mask as mask_utils
    for inst in ann['annotations']:
        x, y, w, h = inst['bbox']
        assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64 and inst['area'] > 0
        rle = mask_utils.frPyObjects(inst['segmentation'], 64, 64)
        m = mask_utils.decode(mask_utils.merge(rle))
        assert int(m.sum()) == inst['area']
        ys, xs = np.nonzero(m)
        assert [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] == inst['bbox']
    with pytest.raises(FileExistsError, match='instances_train2017.json exists'):
        make_synthetic_coco(str(tmp_path / 'a'), num_train=1, num_val=0)


def test_make_synthetic_coco_tool(tmp_path, capsys, load_tool):
    tool = load_tool('make_synthetic_coco')
    argv = ['--out', str(tmp_path), '--num-train', '2', '--num-val', '1', '--image-size', '48']
    assert tool.main(argv) == 0
    assert 'train: 2 images' in capsys.readouterr().out and osp.isfile(tmp_path / 'val2017/000000000003.png')
    assert tool.main(argv) == 1
    err = capsys.readouterr().err
    assert 'exists' in err and '--force' in err
    assert tool.main(argv + ['--force']) == 0


def test_coco_dataset_pseudo3d_pipeline(coco_root):
    """Images become (3, H, W) slice stacks R, G, B; boxes, masks and labels are those of the RGB pipeline."""
    cfg = read_config(osp.join(ROOT, 'configs/demo/a3d_coco_pseudo3d_synthetic.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = coco_root
    ds_cfg.pipeline = [p for p in ds_cfg.pipeline if p['type'] != 'RandomFlip']
    for p in ds_cfg.pipeline:
        if p['type'] == 'RGBToPseudo3D':
            p['random_order'] = False
    ds = DATASETS.build(ds_cfg)
    assert len(ds.metainfo['classes']) == 80
    plain = DATASETS.build(dict(ds_cfg, pipeline=[p for p in ds_cfg.pipeline if p['type'] != 'RGBToPseudo3D']))
    item, ref = ds[0], plain[0]
    img, img_ref = item['inputs'], ref['inputs']
    assert img.shape == img_ref.shape and img.shape[0] == 3
    # BGR as loaded -> slices R, G, B (the uint8 reference is resized with uint8 rounding)
    torch.testing.assert_close(img.float(), img_ref.float().flip(0), rtol=0, atol=1.0)
    s, s_ref = item['data_samples'], ref['data_samples']
    torch.testing.assert_close(s.gt_instances.bboxes.tensor, s_ref.gt_instances.bboxes.tensor)
    assert s.gt_instances.labels.tolist() == s_ref.gt_instances.labels.tolist()
    assert set(s.gt_instances.labels.tolist()) <= {32, 73, 33, 54}  # sports ball, book, kite, donut
    np.testing.assert_array_equal(s.gt_instances.masks.masks, s_ref.gt_instances.masks.masks)
    assert s.metainfo['slice_order'] == ('R', 'G', 'B')


@pytest.mark.parametrize('name', ['pretrain/mp3d63_coco_pseudo3d.py', 'pretrain/a3d_densenet_coco_pseudo3d.py',
                                  'demo/a3d_coco_pseudo3d_synthetic.py', 'demo/mp3d18_coco_pseudo3d_synthetic.py'])
def test_pretrain_configs_build_and_train_step(name, coco_root):
    cfg = read_config(osp.join(ROOT, 'configs', name))
    assert cfg.model.roi_head.bbox_head.num_classes == 80 and cfg.model.roi_head.mask_head.num_classes == 80
    assert cfg.model.neck.reduction.num_slices == 3
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    assert 'RGBToPseudo3D' in [p['type'] for p in cfg.train_dataloader.dataset.pipeline]
    if name.startswith('pretrain/'):
        assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train2017.json'
        if 'mp3d' in name:  # keep the check fast: the same design at depth 18
            cfg.model.backbone.depth = 18
        else:
            cfg.model.backbone.block_config = (2, 2, 2)
            cfg.model.neck.neck.in_channels = [128, 128, 128]
    model = MODELS.build(cfg.model)
    model.init_weights()
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = coco_root
    ds_cfg.pipeline = [dict(p, scale=(64, 64)) if p['type'] == 'Resize' else p for p in ds_cfg.pipeline]
    ds = DATASETS.build(ds_cfg)
    data = model.data_preprocessor(dict(inputs=[ds[0]['inputs']], data_samples=[ds[0]['data_samples']]), True)
    assert data['inputs'].shape[:3] == (1, 1, 3)
    losses = model.loss(data['inputs'], data['data_samples'])
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'):
        value = losses[key]
        value = sum(value) if isinstance(value, list) else value
        assert torch.isfinite(value) and value > 0, key
    # 80-way classifier: softmax cross-entropy of an untrained head is near log(81)
    assert 0.5 * np.log(81) < losses['loss_cls'].item() < 2 * np.log(81)
