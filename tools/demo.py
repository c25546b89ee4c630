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
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

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


def run_one(config: str, work_dir: str, cfg_options=None) -> dict:
    """Train then test ``config`` in this process; returns the FROC report (``froc.json``)."""
    from mmdet3dctx.apis import build_runner, build_train_cfg
    cfg = build_train_cfg(config, work_dir=work_dir, cfg_options=cfg_options)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, dict) and evaluator.get('type') == 'DeepLesionMetric':
        evaluator['out_dir'] = cfg.work_dir
    cfg.experiment_name = f'{osp.splitext(osp.basename(config))[0]}_{time.strftime("%Y%m%d_%H%M%S")}'
    runner = build_runner(cfg)
    runner.train()
    runner.test()
    with open(osp.join(cfg.work_dir, 'froc.json')) as f:
        return json.load(f)


def _options_argv(cfg_options):
    if not cfg_options:
        return []
    return ['--cfg-options'] + [f'{k}={v}' for k, v in cfg_options.items()]


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
        if len(configs) == 1:
            reports[name] = run_one(config, work_dir, args.cfg_options)
        else:  # one process per model: independent logger/visualizer instances
            cmd = [sys.executable, osp.abspath(__file__), '--config', config, '--work-dir', work_dir]
            subprocess.run(cmd + _options_argv(args.cfg_options), check=True)
            with open(osp.join(work_dir, 'froc.json')) as f:
                reports[name] = json.load(f)
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
