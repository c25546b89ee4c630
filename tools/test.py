"""Test a trained detector with MMEngine's Runner: prints the FROC table and writes froc.json (the ``test`` command
of ``mmdet3dctx.apis.cli``, also installed as ``mmdet3dctx-test``, over ``mmdet3dctx.apis.run_test``).

Example:
    python tools/test.py configs/deeplesion/a3d_7slice.py work_dirs/a3d_7slice/epoch_20.pth
    python tools/test.py CONFIG CKPT --out results.pkl --show-dir vis   # vis under the work_dir
"""
from mmdet3dctx.apis.cli import run_command


def main(argv=None):
    """Test as the command line ``argv`` (default: ``sys.argv[1:]``) says; returns the metrics."""
    return run_command('test', argv)


if __name__ == '__main__':
    main()
