"""Train a detector with MMEngine's Runner.

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

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

DEFAULT_DATA_ROOT = 'data/DeepLesion'
MISSING_DATA_HELP = ('Prepare the real data with `python tools/prepare_deeplesion.py --data-root <DeepLesion>` '
                     '(after downloading DeepLesion), or make a small synthetic tree with '
                     '`python tools/make_synthetic_deeplesion.py --out data/synthetic`, then pass '
                     '`--cfg-options data_root=<folder>` or set DEEPLESION_ROOT.')


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


# ----------------------------------------------------------------------------------------------- config helpers
def _datasets(cfg):
    """Every dataset config of the train/val/test dataloaders (wrappers such as RepeatDataset included)."""
    out = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        ds = loader.get('dataset') if loader else None
        while ds is not None:
            out.append((key, ds))
            ds = ds.get('dataset') if 'dataset' in ds else None
            if ds is None and 'datasets' in out[-1][1]:
                for sub in out[-1][1]['datasets']:
                    out.append((key, sub))
    return out


def set_data_root(cfg, cfg_options=None, old=None) -> str:
    """Resolve the data root (``--cfg-options data_root=...``, else env ``DEEPLESION_ROOT``, else the config's
    ``data_root``, else ``data/DeepLesion``) and write it into every dataset that used the config's root
    (``old``: the config's own ``data_root`` before ``--cfg-options`` were merged)."""
    old = old if old is not None else cfg.get('data_root')
    if cfg_options and 'data_root' in cfg_options:
        root = cfg_options['data_root']
    elif os.environ.get('DEEPLESION_ROOT') and not cfg.get('synthetic') and any(
            ds.get('type') == 'DeepLesionDataset' for _, ds in _datasets(cfg)):  # not for COCO pretraining
        root = os.environ['DEEPLESION_ROOT']
    else:
        root = old or DEFAULT_DATA_ROOT
    cfg.data_root = root
    for _, ds in _datasets(cfg):
        if 'data_root' not in ds or ds['data_root'] in (old, None) or ds['data_root'] == os.environ.get(
                'DEEPLESION_ROOT'):
            ds['data_root'] = root
    return root


def ensure_data(cfg) -> None:
    """Stop with a clear message when an annotation file is missing; a config with a ``synthetic`` section
    (the demo configs) generates its synthetic tree instead."""
    root = cfg.get('data_root')
    synthetic = cfg.get('synthetic')
    if synthetic and root and not osp.isfile(osp.join(root, 'DL_info.csv')):
        from mmdet3dctx.datasets.synthetic import make_synthetic_deeplesion
        print(f'making the synthetic DeepLesion tree {root} ({dict(synthetic)}) ...', flush=True)
        make_synthetic_deeplesion(root, **synthetic)
    for key, ds in _datasets(cfg):
        ann = ds.get('ann_file')
        if not ann or ds.get('type') not in (None, 'DeepLesionDataset'):
            continue
        path = ann if osp.isabs(ann) else osp.join(ds.get('data_root') or '', ann)
        if not osp.isfile(path):
            raise SystemExit(f'{key}.dataset.ann_file: {path} not found (data_root={ds.get("data_root")!r}).\n'
                             f'{MISSING_DATA_HELP}')


def setup_distributed(cfg, launcher: str) -> None:
    """CPU-friendly distributed setup: MMEngine's launchers call ``torch.cuda.set_device``; without CUDA the
    gloo process group is initialised here and DDP gets ``device_ids=None``."""
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


def setup_amp(cfg) -> None:
    """Turn the config's optim wrapper into a mixed-precision one suited to the device."""
    wrapper = cfg.optim_wrapper
    if torch.cuda.is_available():
        if wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            wrapper.type = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
    else:  # bf16 autocast (mmdet3dctx.engine); ContextMaskRCNN keeps its heads in float32 for MMCV's CPU ops
        wrapper.type = 'CPUAutocastOptimWrapper'
        wrapper.pop('loss_scale', None)


def fix_amp_without_gpu(cfg) -> None:
    """A config that asks for AmpOptimWrapper (fp16 on GPU) still runs on CPU, with bf16 autocast."""
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        setup_amp(cfg)


def load_config(args):
    """Read the config, apply ``--cfg-options``, resolve the data root and the work dir."""
    from mmengine.config import Config
    import mmdet3dctx  # noqa: F401  (registers the plugins)
    cfg = Config.fromfile(args.config)
    old_root = cfg.get('data_root')
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    set_data_root(cfg, args.cfg_options, old_root)
    if getattr(args, 'work_dir', None):
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg


def build_train_cfg(args):
    cfg = load_config(args)
    ensure_data(cfg)
    if args.amp:
        setup_amp(cfg)
    fix_amp_without_gpu(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and 'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('the config has no auto_scale_lr.enable/base_batch_size; cannot use '
                               '--auto-scale-lr')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    setup_distributed(cfg, args.launcher)
    from mmdet3dctx.utils import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_train_cfg(args)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    logging.captureWarnings(True)
    main()
