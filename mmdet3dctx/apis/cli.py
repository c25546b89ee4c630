"""The training and testing commands over :func:`~mmdet3dctx.apis.run_train` and :func:`~mmdet3dctx.apis.run_test`.

One command line, three ways to call it: ``tools/train.py``/``tools/test.py`` from a checkout (or the
``mmdet3dctx/.mim/tools`` of a wheel, as ``mim train`` runs them), the console scripts ``mmdet3dctx-train`` and
``mmdet3dctx-test`` of the installed package, and ``python -m mmdet3dctx.apis.cli train|test`` through a chosen
interpreter (what ``tools/compare_operators.py`` runs, prints and writes into Slurm jobs).

Example::

    mmdet3dctx-train configs/deeplesion/a3d_7slice.py --cfg-options data_root=/data/DeepLesion --amp
    mmdet3dctx-test configs/deeplesion/a3d_7slice.py work_dirs/a3d_7slice/epoch_20.pth --out results.pkl
    python -m mmdet3dctx.apis.cli train configs/deeplesion/a3d_7slice.py --resume
    torchrun --nproc_per_node=2 -m mmdet3dctx.apis.cli train CONFIG --launcher pytorch
"""
import argparse
import logging
import os
import sys
from typing import List, Optional, Sequence

#: What ``python -m`` runs.
MODULE = 'mmdet3dctx.apis.cli'


def add_launcher_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments every runner command takes: ``--cfg-options``, ``--launcher`` and ``--local_rank``
    (read back by :func:`parse_launcher_args`)."""
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. data_root=/data/DeepLesion train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_launcher_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` (default: the command line) and set ``LOCAL_RANK`` from ``--local_rank`` unless the launcher
    (``torchrun``) already did."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = 'Train a detector'
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default: work_dirs/<config name>)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 with dynamic loss scale on GPU, bf16 autocast on CPU')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or without a value from the latest checkpoint in work_dir')


def _test_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = 'Test (and evaluate) a detector'
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where froc.json and logs go (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='dump the predictions to a pickle file (for tools/eval_froc.py)')
    parser.add_argument('--show-dir', help='save key slices with ground truth (green) and detections drawn, '
                        'in this folder under the work_dir')
    parser.add_argument('--score-thr', type=float, default=0.3, help='score threshold of drawn detections')


def _train(args: argparse.Namespace):
    from .train import run_train
    return run_train(args.config, work_dir=args.work_dir, amp=args.amp, auto_scale_lr=args.auto_scale_lr,
                     resume=args.resume, cfg_options=args.cfg_options, launcher=args.launcher)


def _test(args: argparse.Namespace) -> dict:
    from .test import run_test
    return run_test(args.config, args.checkpoint, work_dir=args.work_dir, out=args.out, show_dir=args.show_dir,
                    score_thr=args.score_thr, cfg_options=args.cfg_options, launcher=args.launcher)


#: name -> (its arguments, what it runs): ``train`` returns the runner, ``test`` the metrics.
COMMANDS = {'train': (_train_arguments, _train), 'test': (_test_arguments, _test)}


def build_parser(name: str, prog: Optional[str] = None) -> argparse.ArgumentParser:
    """The argument parser of a command (``'train'`` or ``'test'``), launcher arguments included."""
    if name not in COMMANDS:
        raise ValueError(f'unknown command {name!r}; choose from {", ".join(COMMANDS)}')
    parser = argparse.ArgumentParser(prog=prog)
    COMMANDS[name][0](parser)
    return add_launcher_arguments(parser)


def run_command(name: str, argv: Optional[Sequence[str]] = None, prog: Optional[str] = None):
    """Parse a command line of ``name`` (default: ``sys.argv[1:]``) and run it.

    Args:
        name (str): ``'train'`` (:func:`~mmdet3dctx.apis.run_train`) or ``'test'``
            (:func:`~mmdet3dctx.apis.run_test`).
        argv (Sequence[str], optional): The arguments, as a user types them.
        prog (str, optional): The program name shown in usage messages.

    Returns:
        The runner after training, or the test metrics (dict).
    """
    args = parse_launcher_args(build_parser(name, prog), argv)
    return COMMANDS[name][1](args)


def command_argv(name: str, args: Sequence[str] = (), python: str = sys.executable) -> List[str]:
    """The argument vector that runs a command in a new process: ``[python, '-m', MODULE, name, *args]``.

    Args:
        name (str): ``'train'`` or ``'test'``.
        args (Sequence[str]): The command's arguments. Defaults to ().
        python (str): The interpreter. Defaults to this one.

    Returns:
        list[str]
    """
    if name not in COMMANDS:
        raise ValueError(f'unknown command {name!r}; choose from {", ".join(COMMANDS)}')
    return [python, '-m', MODULE, name, *args]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m mmdet3dctx.apis.cli train|test ARGS``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f'usage: python -m {MODULE} {{{",".join(COMMANDS)}}} ...\n'
              '  train CONFIG [options]: train a detector (--help for the options)\n'
              '  test CONFIG CHECKPOINT [options]: test a checkpoint, print and write its FROC', file=sys.stderr)
        return 2
    logging.captureWarnings(True)
    run_command(argv[0], argv[1:], prog=f'python -m {MODULE} {argv[0]}')
    return 0


def main_train() -> int:
    """The console script ``mmdet3dctx-train``."""
    logging.captureWarnings(True)
    run_command('train')
    return 0


def main_test() -> int:
    """The console script ``mmdet3dctx-test``."""
    logging.captureWarnings(True)
    run_command('test')
    return 0


if __name__ == '__main__':
    sys.exit(main())
