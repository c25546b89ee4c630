"""tools/train.py, tools/test.py and tools/demo.py (over ``mmdet3dctx.apis``) end to end on a tiny synthetic tree
(shrunk demo model)."""
import json
import os
import os.path as osp
import pickle

import pytest

from mmdet3dctx.apis import build_train_cfg
from mmdet3dctx.testing.tiny_detector import tiny_cfg_argv, tiny_cfg_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    from mmdet3dctx.testing import make_synthetic_deeplesion
    root = str(tmp_path_factory.mktemp('synthetic'))
    return make_synthetic_deeplesion(root, num_patients=8, seed=1, image_size=64)


def test_missing_data_names_the_tools(tmp_path, monkeypatch):
    monkeypatch.delenv('DEEPLESION_ROOT', raising=False)
    cfg_path = osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py')
    with pytest.raises(SystemExit) as e:
        build_train_cfg(cfg_path, work_dir=str(tmp_path), cfg_options={'data_root': f'{tmp_path}/none'})
    msg = str(e.value)
    assert 'tools/prepare_deeplesion.py' in msg and 'tools/make_synthetic_deeplesion.py' in msg
    assert f'{tmp_path}/none' in msg and 'train_dataloader.dataset.ann_file' in msg


def test_data_root_from_env_and_cfg_options(tmp_path, monkeypatch, tiny_root):
    cfg_path = osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py')
    ann = {f'{split}_dataloader.dataset.ann_file': 'DL_info.csv' for split in ('train', 'val', 'test')}
    monkeypatch.setenv('DEEPLESION_ROOT', tiny_root)
    cfg = build_train_cfg(cfg_path, work_dir=str(tmp_path), cfg_options=ann)
    assert cfg.train_dataloader.dataset.data_root == tiny_root == cfg.test_dataloader.dataset.data_root
    monkeypatch.setenv('DEEPLESION_ROOT', '/nonexistent')
    cfg = build_train_cfg(cfg_path, work_dir=str(tmp_path), cfg_options=dict(ann, data_root=tiny_root))
    assert cfg.val_dataloader.dataset.data_root == tiny_root


def test_amp_on_cpu_uses_bf16_wrapper(tmp_path, tiny_root):
    cfg = build_train_cfg(DEMO, work_dir=str(tmp_path), amp=True, cfg_options=tiny_cfg_options(data_root=tiny_root))
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'


def test_train_resume_test_show(tmp_path, tiny_root, capsys, load_tool):
    """The tools' command lines: train, resume, test with --out and --show-dir."""
    train, test_tool = load_tool('train'), load_tool('test')
    work = str(tmp_path / 'work')
    runner = train.main([DEMO, '--work-dir', work] + tiny_cfg_argv(data_root=tiny_root))
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt) and runner.epoch == 1
    # --resume without a value: the latest checkpoint of work_dir (torch>=2.6 weights_only loading)
    runner = train.main([DEMO, '--work-dir', work, '--resume'] +
                        tiny_cfg_argv(**{'data_root': tiny_root, 'train_cfg.max_epochs': 2}))
    assert runner.epoch == 2 and osp.isfile(osp.join(work, 'epoch_2.pth'))
    out = str(tmp_path / 'results.pkl')
    metrics = test_tool.main([DEMO, osp.join(work, 'epoch_2.pth'), '--work-dir', work, '--out', out,
                              '--show-dir', 'vis'] + tiny_cfg_argv(data_root=tiny_root))
    assert 'deeplesion/avg[0.5-4]' in metrics
    with open(osp.join(work, 'froc.json')) as f:
        report = json.load(f)
    assert report['num_images'] > 0 and len(report['sensitivity']) == 6
    assert 'FPs per image' in capsys.readouterr().out
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == report['num_images'] and 'pred_instances' in results[0]
    pngs = [f for _, _, fs in os.walk(work) for f in fs if f.endswith('.png') and f != 'froc.png']
    assert len(pngs) == report['num_images']


@pytest.mark.slow
def test_demo_shortened(tmp_path, load_tool):
    """The demo's code path (tree generation, training, test, FROC table) with fewer patients and epochs."""
    demo = load_tool('demo')
    root = str(tmp_path / 'synthetic')
    reports = demo.main(['--work-dir', str(tmp_path / 'demo'), '--cfg-options', f'data_root={root}',
                         'synthetic.num_patients=24', 'train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=2'])
    assert osp.isfile(osp.join(root, 'DL_info.csv'))
    (report, ) = reports.values()
    assert report['num_images'] > 0 and 0.0 <= report['avg_0.5_4'] <= 1.0
