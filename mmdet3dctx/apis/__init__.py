"""The tools' entry points as functions: ``run_train``, ``run_test`` and the config preparation they share (data
root, mixed precision, launcher). ``cli`` holds their command lines (``tools/train.py``, ``tools/test.py``, the
console scripts ``mmdet3dctx-train``/``mmdet3dctx-test`` and ``python -m mmdet3dctx.apis.cli train|test``; it is
not imported here, so ``python -m`` runs it once); ``operator_runs`` plans the trainings and tests of
``tools/compare_operators.py`` and runs them through those command lines in child processes."""
from .data_root import MISSING_DATA_HELP, dataset_cfgs, ensure_data, set_data_root
from .test import build_test_cfg, print_froc, run_test
from .train import (build_runner, build_train_cfg, fix_amp_without_gpu, last_checkpoint, load_config, run_train,
                    setup_amp, setup_distributed)

__all__ = [
    'MISSING_DATA_HELP', 'dataset_cfgs', 'ensure_data', 'set_data_root', 'load_config', 'setup_amp',
    'fix_amp_without_gpu', 'setup_distributed', 'build_train_cfg', 'build_runner', 'run_train', 'build_test_cfg',
    'print_froc', 'run_test', 'last_checkpoint'
]
