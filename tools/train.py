"""Train a detector with MMEngine's Runner: the ``train`` command of ``mmdet3dctx.apis.cli`` (also installed as
``mmdet3dctx-train``) over ``mmdet3dctx.apis.run_train``.

Example:
    python tools/train.py configs/deeplesion/a3d_7slice.py
    python tools/train.py configs/deeplesion/a3d_7slice.py --cfg-options data_root=/data/DeepLesion --amp
    python tools/train.py configs/deeplesion/a3d_7slice.py --resume            # latest checkpoint of work_dir
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch        # (or tools/dist_train.sh)
"""
import logging

from mmdet3dctx.apis.cli import run_command


def main(argv=None):
    """Train as the command line ``argv`` (default: ``sys.argv[1:]``) says; returns the runner."""
    return run_command('train', argv)


if __name__ == '__main__':
    logging.captureWarnings(True)
    main()
