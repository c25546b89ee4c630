"""The documented TensorBoard switch: MMEngine's TensorboardVisBackend in ``visualizer.vis_backends`` of
configs/_base_/default_runtime.py, from a config or from ``--cfg-options``, writes event files."""
import argparse
import glob
import os.path as osp
import uuid

import pytest

pytest.importorskip('mmdet')
pytest.importorskip('tensorboard', reason='pip install mmdet3dctx[tensorboard] (requirements/tests.txt pins it)')
import mmdet3dctx  # noqa: E402,F401
from mmdet3dctx.apis import read_config  # noqa: E402
from mmdet.registry import RUNNERS  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmdet3dctx.testing.toy_runner import toy_cfg  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RUNTIME = osp.join(ROOT, 'configs', '_base_', 'default_runtime.py')


def cli_options(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *argv]).cfg_options


def run_toy(work_dir, visualizer):
    cfg = toy_cfg(work_dir, max_epochs=1)
    cfg['visualizer'] = dict(visualizer, name=f'vis_{uuid.uuid4().hex[:8]}')  # a fresh instance per runner
    RUNNERS.build(Config(cfg)).train()
    return sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'events.out.tfevents.*')))


def test_cfg_options_switch_writes_event_files(tmp_path):
    runtime = read_config(RUNTIME)
    assert [b['type'] for b in runtime.visualizer.vis_backends] == ['LocalVisBackend']  # off by default
    runtime.merge_from_dict(cli_options('visualizer.vis_backends.0.type=TensorboardVisBackend'))
    assert [b['type'] for b in runtime.visualizer.vis_backends] == ['TensorboardVisBackend']
    events = run_toy(tmp_path, runtime.visualizer.to_dict())
    assert events and osp.getsize(events[0]) > 0

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(osp.dirname(events[0]))
    acc.Reload()
    assert 'loss' in acc.Tags()['scalars'] and len(acc.Scalars('loss')) == 8  # 32 samples / batch 4, logged each


def test_config_switch_keeps_the_local_backend(tmp_path):
    runtime = read_config(RUNTIME)
    visualizer = dict(runtime.visualizer.to_dict(),
                      vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
    assert run_toy(tmp_path, visualizer)
    assert glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'scalars.json'))
