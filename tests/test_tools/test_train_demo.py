"""tools/train.py, tools/test.py and tools/demo.py end to end on a tiny synthetic tree (shrunk demo model)."""
import json
import os
import os.path as osp
import pickle
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
DEMO = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')

#: the demo model shrunk to seconds per epoch on 64 px slices
TINY = {
    'model.backbone.block_config': (1, 1, 1),
    'model.backbone.growth_rate': 8,
    'model.backbone.num_init_features': 16,
    'model.neck.neck.in_channels': [24, 20, 18],
    'model.neck.neck.out_channels': 32,
    'model.rpn_head.in_channels': 32,
    'model.rpn_head.feat_channels': 32,
    'model.roi_head.bbox_roi_extractor.out_channels': 32,
    'model.roi_head.mask_roi_extractor.out_channels': 32,
    'model.roi_head.bbox_head.in_channels': 32,
    'model.roi_head.bbox_head.fc_out_channels': 32,
    'model.roi_head.mask_head.in_channels': 32,
    'model.roi_head.mask_head.conv_out_channels': 8,
    'train_cfg.max_epochs': 1,
    'default_hooks.checkpoint.interval': 1,
}


def _opts(extra=None):
    opts = dict(TINY)
    opts.update(extra or {})
    out = []
    for k, v in opts.items():
        if isinstance(v, (list, tuple)):
            v = ('[' if isinstance(v, list) else '(') + ','.join(map(str, v)) + (']' if isinstance(v, list) else ',)')
        out.append(f'{k}={v}')
    return ['--cfg-options'] + out


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    from mmdet3dctx.datasets.synthetic import make_synthetic_deeplesion
    root = str(tmp_path_factory.mktemp('synthetic'))
    return make_synthetic_deeplesion(root, num_patients=8, seed=1, image_size=64)


def test_missing_data_names_the_tools(tmp_path, monkeypatch):
    import train
    monkeypatch.delenv('DEEPLESION_ROOT', raising=False)
    cfg_path = osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py')
    with pytest.raises(SystemExit) as e:
        train.build_train_cfg(train.parse_args([cfg_path, '--work-dir', str(tmp_path),
                                                '--cfg-options', f'data_root={tmp_path}/none']))
    msg = str(e.value)
    assert 'tools/prepare_deeplesion.py' in msg and 'tools/make_synthetic_deeplesion.py' in msg
    assert f'{tmp_path}/none' in msg and 'train_dataloader.dataset.ann_file' in msg


def test_data_root_from_env_and_cfg_options(tmp_path, monkeypatch, tiny_root):
    import train
    cfg_path = osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py')
    ann = 'train_dataloader.dataset.ann_file=DL_info.csv val_dataloader.dataset.ann_file=DL_info.csv ' \
          'test_dataloader.dataset.ann_file=DL_info.csv'.split()
    monkeypatch.setenv('DEEPLESION_ROOT', tiny_root)
    cfg = train.build_train_cfg(train.parse_args([cfg_path, '--work-dir', str(tmp_path), '--cfg-options'] + ann))
    assert cfg.train_dataloader.dataset.data_root == tiny_root == cfg.test_dataloader.dataset.data_root
    monkeypatch.setenv('DEEPLESION_ROOT', '/nonexistent')
    cfg = train.build_train_cfg(
        train.parse_args([cfg_path, '--work-dir', str(tmp_path), '--cfg-options', f'data_root={tiny_root}'] + ann))
    assert cfg.val_dataloader.dataset.data_root == tiny_root


def test_amp_on_cpu_uses_bf16_wrapper(tmp_path, tiny_root):
    import train
    cfg = train.build_train_cfg(train.parse_args([DEMO, '--amp', '--work-dir', str(tmp_path)] +
                                                 _opts({'data_root': tiny_root})))
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'


def test_train_resume_test_show(tmp_path, tiny_root, capsys):
    import test as test_tool
    import train
    work = str(tmp_path / 'work')
    runner = train.main([DEMO, '--work-dir', work] + _opts({'data_root': tiny_root}))
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt) and runner.epoch == 1
    # --resume without a value: the latest checkpoint of work_dir (torch>=2.6 weights_only loading)
    runner = train.main([DEMO, '--work-dir', work, '--resume'] + _opts({'data_root': tiny_root,
                                                                        'train_cfg.max_epochs': 2}))
    assert runner.epoch == 2 and osp.isfile(osp.join(work, 'epoch_2.pth'))
    out = str(tmp_path / 'results.pkl')
    metrics = test_tool.main([DEMO, osp.join(work, 'epoch_2.pth'), '--work-dir', work, '--out', out,
                              '--show-dir', 'vis'] + _opts({'data_root': tiny_root}))
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
def test_demo_shortened(tmp_path):
    """The demo's code path (tree generation, training, test, FROC table) with fewer patients and epochs."""
    import demo
    root = str(tmp_path / 'synthetic')
    reports = demo.main(['--work-dir', str(tmp_path / 'demo'), '--cfg-options', f'data_root={root}',
                         'synthetic.num_patients=24', 'train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=2'])
    assert osp.isfile(osp.join(root, 'DL_info.csv'))
    (report, ) = reports.values()
    assert report['num_images'] > 0 and 0.0 <= report['avg_0.5_4'] <= 1.0
