"""Training entry points: a config made ready for MMEngine's Runner (mixed precision, launcher, resume) and the run
itself; ``tools/train.py`` is an argument parser over them."""
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from .config import load_config
from .data_root import ensure_data


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Set the launcher; without CUDA also the gloo process group (MMEngine's launchers call
    ``torch.cuda.set_device``), ``device_ids=None`` for DDP and data loading in the main process."""
    cfg.launcher = launcher
    if launcher == 'none':
        return
    if torch.cuda.is_available():
        return  # MMEngine's own NCCL setup
    import torch.distributed as dist
    if launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key]['num_workers'] = 0
            cfg[key]['persistent_workers'] = False


def setup_amp(cfg: Config) -> None:
    """Mixed precision for the device: ``AmpOptimWrapper`` (fp16, dynamic loss scale) with CUDA, else
    ``CPUAutocastOptimWrapper`` (bf16 autocast, heads in float32)."""
    wrapper = cfg.optim_wrapper
    if torch.cuda.is_available():
        if wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            wrapper.type = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
    else:
        wrapper.type = 'CPUAutocastOptimWrapper'
        wrapper.pop('loss_scale', None)


def fix_amp_without_gpu(cfg: Config) -> None:
    """A config that asks for ``AmpOptimWrapper`` (fp16 on GPU) still runs without one, with bf16 autocast."""
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        setup_amp(cfg)


def prepare_run_config(config: str,
                       cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None,
                       amp: bool = False) -> Config:
    """A config read for a training or test run: :func:`load_config`, the data check (a demo's synthetic tree
    made, missing annotations named: :func:`~mmdet3dctx.apis.ensure_data`) and a precision the machine runs
    (``amp``: :func:`setup_amp`; fp16 asked for without a GPU becomes bf16: :func:`fix_amp_without_gpu`)."""
    cfg = load_config(config, cfg_options, work_dir)
    ensure_data(cfg)
    if amp:
        setup_amp(cfg)
    fix_amp_without_gpu(cfg)
    return cfg


def build_train_cfg(config: str,
                    work_dir: Optional[str] = None,
                    amp: bool = False,
                    auto_scale_lr: bool = False,
                    resume: Optional[str] = None,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none') -> Config:
    """The training config of ``tools/train.py``, ready for ``Runner.from_cfg``.

    The config is read by :func:`prepare_run_config`.

    Args:
        config (str): config file.
        work_dir (str, optional): see :func:`load_config`.
        amp (bool): mixed precision (:func:`setup_amp`). Default: False.
        auto_scale_lr (bool): scale the learning rate by the total batch size. Default: False.
        resume (str, optional): ``'auto'`` for the latest checkpoint of the work dir, or a checkpoint file.
        cfg_options (dict, optional): config overrides.
        launcher (str): 'none', 'pytorch' or 'slurm'. Default: 'none'.

    Returns:
        Config: the config.
    """
    cfg = prepare_run_config(config, cfg_options, work_dir, amp)
    if auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and 'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('the config has no auto_scale_lr.enable/base_batch_size; cannot use '
                               '--auto-scale-lr')
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    setup_distributed(cfg, launcher)
    return cfg


def build_runner(cfg: Config):
    """MMEngine's Runner of ``cfg`` (its ``runner_type``, e.g. ``SafeRunner``, when it names one)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint that MMEngine's ``last_checkpoint`` file in ``work_dir`` names (the end of the last training).

    Raises:
        FileNotFoundError: ``work_dir`` has no ``last_checkpoint`` file, or the file it names is missing.
    """
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{work_dir}: no last_checkpoint after training')
    with open(path) as f:
        ckpt = f.read().strip()
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'{path} names {ckpt}, which does not exist')
    return ckpt


def run_train(config: str, **kwargs):
    """Train as ``tools/train.py`` does; ``kwargs`` as :func:`build_train_cfg`. Returns the runner."""
    runner = build_runner(build_train_cfg(config, **kwargs))
    runner.train()
    return runner
