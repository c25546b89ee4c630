"""Test a trained detector with MMEngine's Runner: prints the FROC table and writes froc.json
(``mmdet3dctx.apis.run_test``).

Example:
    python tools/test.py configs/deeplesion/a3d_7slice.py work_dirs/a3d_7slice/epoch_20.pth
    python tools/test.py CONFIG CKPT --out results.pkl --show-dir vis   # vis under the work_dir
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where froc.json and logs go (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='dump the predictions to a pickle file (for tools/eval_froc.py)')
    parser.add_argument('--show-dir', help='save key slices with ground truth (green) and detections drawn, '
                        'in this folder under the work_dir')
    parser.add_argument('--score-thr', type=float, default=0.3, help='score threshold of drawn detections')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    from mmdet3dctx.apis import run_test
    args = parse_args(argv)
    return run_test(args.config, args.checkpoint, work_dir=args.work_dir, out=args.out, show_dir=args.show_dir,
                    score_thr=args.score_thr, cfg_options=args.cfg_options, launcher=args.launcher)


if __name__ == '__main__':
    main()
