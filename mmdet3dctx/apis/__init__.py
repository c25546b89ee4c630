"""The tools' entry points as functions: ``run_train``, ``run_test`` and the config preparation they share (the
config reader, mixed precision, launcher). ``cli`` holds their command lines (``tools/train.py``, ``tools/test.py``,
the console scripts ``mmdet3dctx-train``/``mmdet3dctx-test`` and ``python -m mmdet3dctx.apis.cli train|test``; it is
not imported here, so ``python -m`` runs it once); ``operator_runs`` plans the trainings and tests of
``tools/compare_operators.py`` and runs them through those command lines in child processes; ``gpu_check`` is the
check of ``tools/gpu_check.py`` (importable with torch alone: its operator rows run without MMDetection)."""
from .. import HAS_MMDET

__all__ = []

if HAS_MMDET:  # the training and test entry points build MMDetection's runner and models
    from .config import load_config, read_config
    from .data_root import MISSING_DATA_HELP, dataset_cfgs, ensure_data
    from .test import build_test_cfg, print_froc, run_test
    from .train import (build_runner, build_train_cfg, fix_amp_without_gpu, last_checkpoint, prepare_run_config,
                        run_train, setup_amp, setup_distributed)

    __all__ += [
        'MISSING_DATA_HELP', 'dataset_cfgs', 'ensure_data', 'read_config', 'load_config', 'setup_amp',
        'fix_amp_without_gpu', 'setup_distributed', 'build_train_cfg', 'build_runner', 'run_train', 'build_test_cfg',
        'print_froc', 'run_test', 'last_checkpoint', 'prepare_run_config'
    ]
