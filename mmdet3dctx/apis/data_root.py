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
#: What to do when a volume dataset's index is missing.
MISSING_VOLUMES_HELP = ('Prepare labelled CT volumes with `python tools/prepare_volumes.py SRC --out <folder>` '
                        '(docs/own_data.md), then pass `--cfg-options data_root=<folder>` or set VOLUMES_ROOT.')


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
    """Make the synthetic data of a demo config if they are missing (a ``synthetic`` section: the DeepLesion tree;
    ``synthetic_volumes``: generated Decathlon-style volumes prepared into ``data_root``), and stop with
    :class:`SystemExit` naming the dataloader, the file and the tools that make it when a DeepLesion annotation
    file or a volume dataset's ``volumes.json`` is missing."""
    root = cfg.get('data_root')
    synthetic = cfg.get('synthetic')
    if synthetic and root and not osp.isfile(osp.join(root, 'DL_info.csv')):
        from mmdet3dctx.testing import make_synthetic_deeplesion
        print(f'making the synthetic DeepLesion tree {root} ({dict(synthetic)}) ...', flush=True)
        make_synthetic_deeplesion(root, **synthetic)
    synthetic_volumes = cfg.get('synthetic_volumes')
    if synthetic_volumes and root and not osp.isfile(osp.join(root, 'volumes.json')):
        make_synthetic_volume_dataset(root, **synthetic_volumes)
    for key, ds in dataset_cfgs(cfg):
        if ds.get('type') == 'VolumeLesionDataset':
            path = osp.join(ds.get('data_root') or '', ds.get('ann_file') or 'volumes.json')
            if not osp.isfile(path):
                raise SystemExit(f'{key}.dataset: {path} not found (data_root={ds.get("data_root")!r}).\n'
                                 f'{MISSING_VOLUMES_HELP}')
            continue
        ann = ds.get('ann_file')
        if not ann or ds.get('type') not in (None, 'DeepLesionDataset'):
            continue
        path = ann if osp.isabs(ann) else osp.join(ds.get('data_root') or '', ann)
        if not osp.isfile(path):
            raise SystemExit(f'{key}.dataset.ann_file: {path} not found (data_root={ds.get("data_root")!r}).\n'
                             f'{MISSING_DATA_HELP}')


def make_synthetic_volume_dataset(root: str, num_cases: int = 10, seed: int = 0, size: int = 96,
                                  split: Tuple[float, float, float] = (0.6, 0.2, 0.2)) -> dict:
    """Generate a Decathlon-style task (:func:`~mmdet3dctx.testing.synthetic_volumes.make_synthetic_msd`, lesion
    label 2) in ``root + '_source'`` and prepare it into ``root`` with a seeded split; returns the preparation's
    summary."""
    from mmdet3dctx.datasets.prepare_volumes import prepare_volume_dataset
    from mmdet3dctx.testing.synthetic_volumes import make_synthetic_msd
    print(f'making the synthetic volume dataset {root} ({num_cases} cases of {size} px, seed {seed}) ...', flush=True)
    src = make_synthetic_msd(root.rstrip('/\\') + '_source', num_cases=num_cases, seed=seed, size=size)['root']
    return prepare_volume_dataset(src, root, lesion_labels=[2], split=list(split), seed=seed, progress=False)
