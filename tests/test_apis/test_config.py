"""The config reader: a shipped config read with ``--cfg-options`` has its references resolved, so one top-level
variable reaches every place that names it; a config read without the reader is refused where it is built."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmdet3dctx.apis import load_config, read_config
from mmdet3dctx.utils import ConfigReferenceError, find_config_refs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
A3D_7 = osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py')
DEMO = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')
COCO = osp.join(ROOT, 'configs', 'pretrain', 'mp3d63_coco_pseudo3d.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _slice_loaders(cfg):
    """The LoadDeepLesionSlices steps of the three loaders and of the top-level pipelines."""
    pipelines = [cfg[k].dataset.pipeline for k in LOADERS if cfg.get(k)] + [cfg.train_pipeline, cfg.test_pipeline]
    return [t for p in pipelines for t in p if t['type'] == 'LoadDeepLesionSlices']


def test_cfg_options_num_slices_reaches_the_backbone_the_reduction_and_every_loader():
    cfg = read_config(A3D_7, {'num_slices': 3})
    assert cfg.model.backbone.num_slices == 3 and cfg.model.neck.reduction.num_slices == 3
    loads = _slice_loaders(cfg)
    assert len(loads) == 5 and all(t['num_slices'] == 3 for t in loads)
    assert list(find_config_refs(cfg)) == []


def test_cfg_options_reach_the_loader_settings():
    cfg = read_config(A3D_7, {'input_slice_interval': None, 'window': (-175, 275), 'out_range': (0, 255)})
    for t in _slice_loaders(cfg):
        assert t['input_slice_interval'] is None and t['window'] == (-175, 275) and t['out_range'] == (0, 255)


def test_data_root_reaches_every_dataset_and_the_coco_evaluator():
    cfg = read_config(A3D_7, {'data_root': '/data/DeepLesion'})
    assert [cfg[k].dataset.data_root for k in LOADERS] == ['/data/DeepLesion'] * 3
    cfg = read_config(COCO, {'data_root': '/data/coco/'})
    assert [cfg[k].dataset.data_root for k in LOADERS] == ['/data/coco/'] * 3
    assert cfg.val_evaluator.ann_file == cfg.test_evaluator.ann_file == '/data/coco/annotations/instances_val2017.json'


def test_the_environment_sets_the_deeplesion_root(monkeypatch):
    monkeypatch.setenv('DEEPLESION_ROOT', '/env/DeepLesion')
    cfg = read_config(A3D_7)
    assert [cfg[k].dataset.data_root for k in LOADERS] == ['/env/DeepLesion'] * 3


def test_read_config_takes_a_config_and_leaves_it_as_it_is():
    raw = Config.fromfile(A3D_7)
    cfg = read_config(raw, {'num_slices': 5})
    assert cfg.model.backbone.num_slices == 5
    assert raw.model.backbone.num_slices == '${num_slices}' and raw.num_slices == 7


def test_load_config_sets_the_work_dir(tmp_path):
    cfg = load_config(DEMO, {'num_slices': 5})
    assert cfg.work_dir == osp.join('./work_dirs', 'a3d_7slice_synthetic')
    assert cfg.model.backbone.num_slices == 5
    assert load_config(DEMO, work_dir=str(tmp_path)).work_dir == str(tmp_path)
    if not torch.cuda.is_available():
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_a_config_read_without_the_reader_is_refused_where_it_is_built():
    raw = Config.fromfile(DEMO)
    with pytest.raises(ConfigReferenceError, match=r'ContextMaskRCNN: unresolved config reference \$\{num_slices\} '
                                                   r'\(backbone\.num_slices\): read configs with '
                                                   r'mmdet3dctx\.apis\.load_config'):
        MODELS.build(raw.model)
    with pytest.raises(ConfigReferenceError, match=r'DeepLesionDataset: unresolved config reference \$\{data_root\}'):
        DATASETS.build(raw.test_dataloader.dataset)
    with pytest.raises(ConfigReferenceError, match=r'LoadDeepLesionSlices: unresolved config reference '
                                                   r'\$\{num_slices\} \(num_slices\)'):
        TRANSFORMS.build(raw.test_pipeline[0])


def test_safe_runner_resolves_a_config_read_by_mmengine(tmp_path):
    """MMDetection's tools/train.py reads the file with ``Config.fromfile`` and builds ``runner_type``: the shipped
    configs still run, their references resolved by ``SafeRunner.from_cfg``."""
    from mmengine.registry import RUNNERS
    raw = Config.fromfile(DEMO)
    raw.merge_from_dict({'work_dir': str(tmp_path), 'num_slices': 3})
    runner = RUNNERS.build(raw)
    assert type(runner).__name__ == 'SafeRunner'
    assert runner.model.backbone.num_slices == 3 and runner.model.neck.reduction.num_slices == 3
    assert runner.cfg.train_dataloader.dataset.pipeline[0].num_slices == 3
    assert runner.cfg.test_dataloader.dataset.data_root == 'data/synthetic/demo_200p_128px_thinnoise'
    assert list(find_config_refs(runner.cfg)) == []
