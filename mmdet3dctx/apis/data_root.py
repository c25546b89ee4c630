"""Where a config's data live: the data root of every dataset, and a clear stop when the annotations are missing."""
import os.path as osp
from typing import List, Optional, Tuple

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


def set_data_root(cfg: Config, root: str, old: Optional[str] = None) -> str:
    """Point ``cfg.data_root`` and every dataset that read the config's own root at ``root``; return ``root``.

    The config alone says where its data are: ``data_root = '{{$DEEPLESION_ROOT:data/DeepLesion}}'`` in the
    DeepLesion configs reads the environment variable when the config is read (MMEngine's syntax). A config's
    datasets copy ``data_root`` when it is read, so ``--cfg-options data_root=...`` alone would not reach them:
    this function does, leaving datasets with a root of their own (and dataset wrappers) as they are.

    Args:
        cfg (Config): the config, ``--cfg-options`` already merged.
        root (str): the new data root.
        old (str, optional): the config's ``data_root`` before ``--cfg-options`` were merged. Default: the
            current ``cfg.data_root``.

    Returns:
        str: ``root``.
    """
    old = old if old is not None else cfg.get('data_root')
    cfg.data_root = root
    for _, ds in dataset_cfgs(cfg):
        wrapper = 'dataset' in ds or 'datasets' in ds  # RepeatDataset, ConcatDataset: no data_root argument
        if not wrapper and ds.get('data_root') in (old, None):
            ds['data_root'] = root
    return root


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
