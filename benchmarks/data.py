"""Throughput of the DeepLesion train pipeline: samples per second per worker and with 2 workers.

Builds the train dataset and pipeline of ``configs/_base_/datasets/deeplesion.py`` (7 slices 2 mm apart,
512x512, flip, shift/scale/rotate, pad) on a synthetic DeepLesion tree (or ``--data-root``), then times

* one process pulling samples in shuffled order (= one dataloader worker), with the decode cache's hit rate;
* a ``torch.utils.data.DataLoader`` with 2 workers.

Usage:
    python benchmarks/data.py [--data-root DIR] [--samples 200] [--num-patients 12]
"""
import argparse
import os.path as osp
import random
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import mmdet3dctx  # noqa: F401  (registers the plugins)
from mmdet.registry import DATASETS
from mmdet3dctx.datasets.synthetic import make_synthetic_deeplesion

CONFIG = osp.join(osp.dirname(__file__), '..', 'configs', '_base_', 'datasets', 'deeplesion.py')


def build_dataset(data_root, num_slices=7):
    cfg = Config.fromfile(CONFIG)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = data_root
    ds_cfg.split = None  # every key slice, for more distinct samples
    for t in ds_cfg.pipeline:
        if t['type'] == 'LoadDeepLesionSlices':
            t['num_slices'] = num_slices
    return DATASETS.build(ds_cfg)


def per_worker(dataset, samples, seed=0, shuffle=True):
    """One process pulling ``samples`` samples (epochs repeated as needed), shuffled or in file order.

    Returns:
        tuple: samples/s, the decode cache's hit rate, its hits and misses, and the time per sample grouped by
        the series' slice interval.
    """
    rng = random.Random(seed)
    order = []
    while len(order) < samples:
        idx = list(range(len(dataset)))
        if shuffle:
            rng.shuffle(idx)
        order += idx
    order = order[:samples]
    for i in order[:5]:  # warm-up (imports, first allocations)
        dataset[i]
    loader = dataset.pipeline.transforms[0]
    loader.cache.clear()
    by_interval = {}
    start = time.perf_counter()
    for i in order:
        t0 = time.perf_counter()
        out = dataset[i]
        by_interval.setdefault(dataset.get_data_info(i)['slice_interval'], []).append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    assert tuple(out['inputs'].shape[1:]) == (512, 512), out['inputs'].shape
    return samples / elapsed, loader.cache.hit_rate, loader.cache.hits, loader.cache.misses, by_interval


def with_workers(dataset, samples, workers=2):
    """Samples/s of a DataLoader with ``workers`` processes (first batch excluded: worker start-up)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=True, num_workers=workers,
                                         collate_fn=pseudo_collate, persistent_workers=True,
                                         generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    next(it)
    count = 0
    start = time.perf_counter()
    while count < samples:
        try:
            next(it)
        except StopIteration:
            it = iter(loader)
            next(it)
        count += 1
    return count / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=None, help='DeepLesion tree (default: a synthetic one, 512x512)')
    parser.add_argument('--num-patients', type=int, default=30, help='patients of the synthetic tree')
    parser.add_argument('--samples', type=int, default=200, help='samples timed per measurement')
    parser.add_argument('--num-slices', type=int, default=7)
    args = parser.parse_args(argv)
    init_default_scope('mmdet')
    # As MMEngine's runner sets up every process: no OpenCV thread pool, one torch thread per worker.
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    tmp = None
    data_root = args.data_root
    if data_root is None:
        tmp = tempfile.TemporaryDirectory()
        start = time.perf_counter()
        data_root = make_synthetic_deeplesion(tmp.name, num_patients=args.num_patients, seed=0, image_size=512)
        print(f'synthetic tree: {args.num_patients} patients at 512x512 in {time.perf_counter() - start:.1f} s')
    dataset = build_dataset(data_root, args.num_slices)
    intervals = np.array([dataset.get_data_info(i)['slice_interval'] for i in range(len(dataset))])
    print(f'{len(dataset)} key slices, slice intervals {sorted(set(intervals.round(3).tolist()))} mm; '
          f'{args.num_slices} slices 2 mm apart, 512x512, train pipeline of {osp.relpath(CONFIG)}')
    rate, hit_rate, hits, misses, by_interval = per_worker(dataset, args.samples)
    print(f'per worker (1 process, shuffled order): {rate:.1f} samples/s; decode cache hit rate {hit_rate:.1%} '
          f'({hits} of {hits + misses} slice reads, counted once per sample)')
    print('  by series slice interval: ' + ', '.join(
        f'{k:g} mm {len(v) / sum(v):.0f}/s' for k, v in sorted(by_interval.items())))
    rate_seq, hit_seq, _, _, _ = per_worker(dataset, min(args.samples, len(dataset)), shuffle=False)
    print(f'per worker (1 process, file order, e.g. validation): {rate_seq:.1f} samples/s; '
          f'decode cache hit rate {hit_seq:.1%}')
    rate2 = with_workers(dataset, args.samples, 2)
    print(f'DataLoader, 2 workers: {rate2:.1f} samples/s')
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
