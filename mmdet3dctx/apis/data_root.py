"""A config's data made ready: the synthetic tree of a demo made when missing, and a clear stop when the annotations
are missing. (Every dataset of a shipped config reads ``data_root='${data_root}'``, so the top-level ``data_root``,
from the config, ``DEEPLESION_ROOT`` or ``--cfg-options data_root=...``, reaches them all.)"""
import os.path as osp
from typing import List, Tuple

from mmengine.config import Config

#: What to do when the annotation files are missing.
MISSING_DATA_HELP = ('Prepare the real data with `python tools/prepare_deeplesion.py --data-root <DeepLesion>` '
                     '(after downloading DeepLesion), or make a small synthetic tree with '
                     '`python tools/make_synthetic_deeplesion.py --out data/synthetic`, then pass '
                     '`--cfg-options data_root=<folder>` or set DEEPLESION_ROOT.')


def dataset_cfgs(cfg: Config) -> List[Tuple[str, dict]]:
    """Every dataset config of the train/val/test dataloaders, wrapped ones (``RepeatDataset``,
    ``ConcatDataset``) included, as ``(dataloader key, dataset config)`` pairs."""
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


def ensure_data(cfg: Config) -> None:
    """Make the synthetic tree of a config with a ``synthetic`` section (the demos) if it is missing, and stop
    with :class:`SystemExit` naming the dataloader, the file and the tools that make it when a DeepLesion
    annotation file is missing."""
    root = cfg.get('data_root')
    synthetic = cfg.get('synthetic')
    if synthetic and root and not osp.isfile(osp.join(root, 'DL_info.csv')):
        from mmdet3dctx.testing import make_synthetic_deeplesion
        print(f'making the synthetic DeepLesion tree {root} ({dict(synthetic)}) ...', flush=True)
        make_synthetic_deeplesion(root, **synthetic)
    for key, ds in dataset_cfgs(cfg):
        ann = ds.get('ann_file')
        if not ann or ds.get('type') not in (None, 'DeepLesionDataset'):
            continue
        path = ann if osp.isabs(ann) else osp.join(ds.get('data_root') or '', ann)
        if not osp.isfile(path):
            raise SystemExit(f'{key}.dataset.ann_file: {path} not found (data_root={ds.get("data_root")!r}).\n'
                             f'{MISSING_DATA_HELP}')
