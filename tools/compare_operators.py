"""Reproduce the A3D paper's operator comparison (its Table 2): train and test one detector per 3D-context
operator and slice count (and seed), then print the FROC table next to the published figures, the paired
difference to no fusion, and save a FROC plot of all curves.

Each run is `python -m mmdet3dctx.apis.cli train CONFIG --cfg-options randomness.seed=S` then the `test` command
on its last checkpoint, each in its own process, in <work-dir>/<operator>_<n>slice/seed<S>/ (test report:
test/froc.json). Finished runs are skipped, so the same command resumes an interrupted comparison; a work dir
holding other files or runs made with other settings is refused, never overwritten.

Examples:
    # DeepLesion (configs/deeplesion/<operator>_<n>slice.py), everything one after the other on this machine
    python tools/compare_operators.py --data-root data/DeepLesion --seeds 3
    # the same runs as Slurm jobs (<work-dir>/jobs.sh); once they ran, --collect instead of --launcher tabulates
    python tools/compare_operators.py --data-root data/DeepLesion --seeds 3 --launcher slurm --partition gpu
    # the demo model on the synthetic tree (made on first use), two operators
    python tools/compare_operators.py --demo --operators nofusion a3d --slices 7
"""
import argparse
import os
import os.path as osp
import sys

from mmdet3dctx.apis.operator_runs import (ComparisonError, commands, execute, plan_runs, prepare_work_dir,
                                            slurm_script, summarize_runs)
from mmdet3dctx.evaluation.operator_comparison import OPERATORS

#: The configs beside the tools: <repository>/configs, or mmdet3dctx/.mim/configs of an installed package.
CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--operators', nargs='+', default=list(OPERATORS), choices=list(OPERATORS), metavar='OP',
                        help=f'operators to compare, of {" ".join(OPERATORS)} (default: all)')
    parser.add_argument('--slices', nargs='+', type=int, default=[3, 7], metavar='N',
                        help='slice counts (default: 3 7)')
    parser.add_argument('--seeds', type=int, default=1, metavar='N', help='seeds per run: 0 .. N-1 (default: 1)')
    parser.add_argument('--data-root', help='dataset folder (default: the configs\' data_root / DEEPLESION_ROOT)')
    parser.add_argument('--work-dir', help='default: work_dirs/compare_operators (with --demo: '
                        'work_dirs/compare_operators_demo)')
    parser.add_argument('--demo', action='store_true',
                        help='the demo model (configs/demo/a3d_7slice_synthetic.py with each operator) on the '
                        'synthetic tree instead of configs/deeplesion/<operator>_<n>slice.py')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to the training and the test of every run')
    parser.add_argument('--launcher', choices=['none', 'slurm'], default='none',
                        help='none: run here one after the other; slurm: write <work-dir>/jobs.sh')
    parser.add_argument('--partition', help='Slurm partition (--launcher slurm)')
    parser.add_argument('--gpus', type=int, default=4, help='GPUs per training job (--launcher slurm; default 4)')
    parser.add_argument('--dry-run', action='store_true', help='print the commands of the unfinished runs only')
    parser.add_argument('--collect', action='store_true', help='run nothing: tabulate the finished runs')
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error('--seeds must be >= 1')
    if args.launcher == 'slurm' and not args.partition:
        parser.error('--launcher slurm needs --partition')
    bad = [o for o in args.cfg_options if '=' not in o]
    if bad:
        parser.error(f'--cfg-options must be KEY=VALUE, got {bad}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    work_dir = args.work_dir or osp.join('work_dirs', 'compare_operators' + ('_demo' if args.demo else ''))
    try:
        runs = plan_runs(args.operators, args.slices, range(args.seeds), work_dir, args.demo, args.data_root,
                         args.cfg_options, config_dir=osp.relpath(osp.join(CONFIGS, 'deeplesion')),
                         demo_config=osp.relpath(osp.join(CONFIGS, 'demo', 'a3d_7slice_synthetic.py')))
        if args.dry_run:
            print('\n'.join(commands(runs, sys.executable)) or 'every run has finished')
            return 0
        prepare_work_dir(work_dir, runs, record=not args.collect)
        failed = []
        if args.launcher == 'slurm':
            script = osp.join(work_dir, 'jobs.sh')
            with open(script + '.tmp', 'w') as f:
                f.write(slurm_script(runs, args.partition, args.gpus))
            os.replace(script + '.tmp', script)
            print(f'wrote {script}: run it from {osp.abspath(".")} (bash {script})')
        elif not args.collect:
            failed = execute(runs, sys.executable)
        name = f'synthetic tree ({args.data_root or "demo"}), demo model' if args.demo else \
            f'DeepLesion test split ({args.data_root or "config data_root"})'
        summarize_runs(runs, work_dir, name)
    except ComparisonError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if failed:
        print(f'{len(failed)} run(s) failed: {", ".join(r.name for r in failed)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
