"""The demo (`make demo`): make the synthetic DeepLesion tree if missing, train the 7-slice A3D demo detector on
it, test it and print the FROC table.

Example:
    python tools/demo.py                       # A3D demo (configs/demo/a3d_7slice_synthetic.py)
    python tools/demo.py --compare             # A3D and the 2.5D no-fusion baseline, one table
    python tools/demo.py --config configs/demo/nofusion_7slice_synthetic.py
"""
import argparse
import json
import os.path as osp
import subprocess
import time

from mmdet3dctx.apis import build_runner, build_test_cfg, last_checkpoint, run_train
from mmdet3dctx.apis.cli import command_argv

DEFAULT_CONFIG = 'configs/demo/a3d_7slice_synthetic.py'
BASELINE_CONFIG = 'configs/demo/nofusion_7slice_synthetic.py'
TARGET = 0.6


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='demo config')
    parser.add_argument('--work-dir', help='default: work_dirs/demo/<config name>')
    parser.add_argument('--compare', action='store_true',
                        help=f'also train and test the 2.5D baseline ({BASELINE_CONFIG}) and print both')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def read_froc(work_dir: str) -> dict:
    """The FROC report the test wrote into ``work_dir`` (``froc.json``)."""
    with open(osp.join(work_dir, 'froc.json')) as f:
        return json.load(f)


def run_one(config: str, work_dir: str, cfg_options=None) -> dict:
    """Train ``config``, then test its last checkpoint, in this process; returns the FROC report."""
    run_train(config, work_dir=work_dir, cfg_options=cfg_options)
    cfg = build_test_cfg(config, last_checkpoint(work_dir), work_dir=work_dir, cfg_options=cfg_options)
    build_runner(cfg).test()
    return read_froc(work_dir)


def run_one_in_processes(config: str, work_dir: str, cfg_options=None) -> dict:
    """As :func:`run_one`, the training and the test each in a new process (their own logger and visualizer
    instances): the ``train`` and ``test`` commands of ``mmdet3dctx.apis.cli``."""
    options = ['--cfg-options'] + [f'{k}={v}' for k, v in cfg_options.items()] if cfg_options else []
    subprocess.run(command_argv('train', [config, '--work-dir', work_dir] + options), check=True)
    subprocess.run(command_argv('test', [config, last_checkpoint(work_dir), '--work-dir', work_dir] + options),
                   check=True)
    return read_froc(work_dir)


def main(argv=None):
    args = parse_args(argv)
    from mmdet3dctx.evaluation.deeplesion_eval import format_froc_table, headline
    start = time.time()
    configs = [args.config] + ([BASELINE_CONFIG] if args.compare else [])
    reports, times = {}, {}
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        if len(configs) == 1:
            work_dir = args.work_dir or osp.join('work_dirs', 'demo', name)
        else:
            work_dir = osp.join(args.work_dir or osp.join('work_dirs', 'demo'), name)
        t0 = time.time()
        run = run_one if len(configs) == 1 else run_one_in_processes
        reports[name] = run(config, work_dir, args.cfg_options)
        times[name] = time.time() - t0
    print('\n' + format_froc_table(reports), flush=True)
    for name, report in reports.items():
        avg = headline(report)
        mark = 'meets' if avg >= TARGET else 'BELOW'
        print(f'{name}: average sensitivity over 0.5-4 FPs per image = {avg:.3f} ({mark} the demo target '
              f'{TARGET}), train+test {times[name] / 60:.1f} min', flush=True)
    print(f'total wall time {(time.time() - start) / 60:.1f} min', flush=True)
    return reports


if __name__ == '__main__':
    main()
