"""Train a detector with MMEngine's Runner (``mmdet3dctx.apis.run_train``).

Example:
    python tools/train.py configs/deeplesion/a3d_7slice.py
    python tools/train.py configs/deeplesion/a3d_7slice.py --cfg-options data_root=/data/DeepLesion --amp
    python tools/train.py configs/deeplesion/a3d_7slice.py --resume            # latest checkpoint of work_dir
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch        # (or tools/dist_train.sh)
"""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default: work_dirs/<config name>)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 with dynamic loss scale on GPU, bf16 autocast on CPU')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or without a value from the latest checkpoint in work_dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. data_root=/data/DeepLesion '
                        'train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    from mmdet3dctx.apis import run_train
    args = parse_args(argv)
    return run_train(args.config, work_dir=args.work_dir, amp=args.amp, auto_scale_lr=args.auto_scale_lr,
                     resume=args.resume, cfg_options=args.cfg_options, launcher=args.launcher)


if __name__ == '__main__':
    logging.captureWarnings(True)
    main()
