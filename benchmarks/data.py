"""Throughput of the DeepLesion train pipeline, and of the prepared-volume one beside it: samples per second per
worker and with 2 workers.

Builds the train dataset and pipeline the flagship ``configs/deeplesion/a3d_7slice.py`` trains with (its data
section is ``configs/_base_/datasets/deeplesion_mask.py``: 7 slices 2 mm apart, 512x512, interval normalisation,
boxes and masks (ellipses from the RECIST axes here, as the synthetic tree has no GrabCut JSON), flip,
shift/scale/rotate, pack) on a synthetic 512-pixel DeepLesion tree
(or ``--data-root``), then times, side by side in interleaved rounds over the same shuffled samples:

* ``opencv``: the loader decoding every PNG with ``cv2.imdecode`` (``png_decoder='opencv'``, the reference);
* ``fast``: the default loader (``png_decoder='auto'``: the fast 16-bit PNG decoder, ISA-L inflate if ``isal``
  is installed);
* ``fast + disk cache``: the default loader with the opt-in ``decode_cache_dir`` after one pass has filled it
  (a later epoch);
* ``volume (memmap)``: the same train pipeline on a prepared volume dataset (``configs/volumes/a3d_7slice_finetune.py``:
  ``VolumeLesionDataset`` + ``LoadVolumeSlices`` reading the int16 cache memory-mapped, masks from the lesion map)
  of generated 512x512 volumes (``make_synthetic_msd`` + ``prepare_volume_dataset``, or ``--volumes-root``).

Each row is one process pulling samples (= one dataloader worker), every step of the train pipeline included,
with the per-worker decode cache's hit rate (and the disk cache's). Samples/s are given by wall time and by the
process's CPU time: on a machine shared with other jobs the wall-time figure drops with the load, the CPU-time
one is what a worker with a core to itself would reach (less the cache sharing). Then the default loader in file
order (validation) and a ``torch.utils.data.DataLoader`` with 2 workers, both loaders.

The ratio of the volume loader to the default DeepLesion loader (``fast``) is printed per worker (the issue's
target: at least 1).

Usage:
    python benchmarks/data.py [--data-root DIR] [--samples 200] [--num-patients 30] [--rounds 4]
                              [--volumes-root DST] [--num-volumes 6]
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
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import mmdet3dctx  # noqa: F401  (registers the plugins)
from mmdet.registry import DATASETS
from mmdet3dctx.apis import read_config
from mmdet3dctx.datasets import png16
from mmdet3dctx.testing import make_synthetic_deeplesion

CONFIG = osp.join(osp.dirname(__file__), '..', 'configs', 'deeplesion', 'a3d_7slice.py')
VOLUME_CONFIG = osp.join(osp.dirname(__file__), '..', 'configs', 'volumes', 'a3d_7slice_finetune.py')


def build_dataset(data_root, num_slices=7, **loader_options):
    """The flagship config's train dataset over every key slice, read from ``DL_info.csv`` with ellipse masks,
    ``loader_options`` set on ``LoadDeepLesionSlices``."""
    cfg = read_config(CONFIG)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = data_root
    ds_cfg.ann_file, ds_cfg.ellipse_masks = 'DL_info.csv', True  # no GrabCut JSON on a synthetic tree
    ds_cfg.split = None  # every key slice, for more distinct samples
    for t in ds_cfg.pipeline:
        if t['type'] == 'LoadDeepLesionSlices':
            t['num_slices'] = num_slices
            t.update(loader_options)
    return DATASETS.build(ds_cfg)


def build_volume_dataset(data_root, num_slices=7):
    """The volume fine-tuning config's train dataset (the flagship's pipeline with the volume loader)."""
    cfg = read_config(VOLUME_CONFIG, {'data_root': data_root, 'num_slices': num_slices})
    return DATASETS.build(cfg.train_dataloader.dataset)


def make_volume_dataset(root, num_volumes):
    """Generated 512x512 Decathlon-style volumes prepared into ``root`` (every case in the train split)."""
    from mmdet3dctx.datasets.prepare_volumes import prepare_volume_dataset
    from mmdet3dctx.testing.synthetic_volumes import make_synthetic_msd
    src = make_synthetic_msd(osp.join(root, 'source'), num_cases=num_volumes, seed=0, size=512, num_test=0)['root']
    prepare_volume_dataset(src, osp.join(root, 'prepared'), lesion_labels=[2], split=[1.0, 0.0, 0.0],
                           progress=False)
    return osp.join(root, 'prepared')


def sample_order(n, samples, seed=0, shuffle=True):
    """``samples`` indices into ``n`` samples, epochs repeated as needed, each epoch shuffled or in file order."""
    rng = random.Random(seed)
    order = []
    while len(order) < samples:
        idx = list(range(n))
        if shuffle:
            rng.shuffle(idx)
        order += idx
    return order[:samples]


class Timing:
    """Wall and CPU time of one loader configuration, summed over rounds."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.loader = dataset.pipeline.transforms[0]
        self.count = 0
        self.wall = 0.0
        self.cpu = 0.0
        self.by_interval = {}

    def run(self, indices):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in indices:
            t0 = time.perf_counter()
            out = self.dataset[i]
            self.by_interval.setdefault(self.dataset.get_data_info(i)['slice_interval'],
                                        []).append(time.perf_counter() - t0)
        self.wall += time.perf_counter() - wall0
        self.cpu += time.process_time() - cpu0
        self.count += len(indices)
        assert tuple(out['inputs'].shape[1:]) == (512, 512), out['inputs'].shape

    def reset_caches(self):
        if not hasattr(self.loader, 'cache'):  # the volume loader: memory maps, nothing decoded to forget
            return
        self.loader.cache.clear()
        if self.loader.disk_cache is not None:
            self.loader.disk_cache.reset_counters()


def interleaved(timings, order, rounds, orders=None):
    """Run every configuration on the same samples (``orders[name]`` for a configuration over another dataset),
    in ``rounds`` alternating chunks (shared load alike)."""
    orders = orders or {}
    chunks = {name: np.array_split(np.asarray(orders.get(name, order)), rounds) for name in timings}
    for name, t in timings.items():
        for i in orders.get(name, order)[:5]:  # warm-up (imports, first allocations)
            t.dataset[i]
        t.reset_caches()
    for r in range(rounds):
        names = list(timings) if r % 2 == 0 else list(timings)[::-1]
        for name in names:
            timings[name].run(chunks[name][r].tolist())


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


def _hits(loader):
    if not hasattr(loader, 'cache'):
        return 'memory-mapped, no decoding'
    c = loader.cache
    text = f'{c.hit_rate:.1%} ({c.hits}/{c.hits + c.misses})'
    if loader.disk_cache is not None:
        d = loader.disk_cache
        text += f'; disk {d.hit_rate:.1%} ({d.hits}/{d.hits + d.misses})'
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=None, help='DeepLesion tree (default: a synthetic one, 512x512)')
    parser.add_argument('--num-patients', type=int, default=30, help='patients of the synthetic tree')
    parser.add_argument('--samples', type=int, default=200, help='samples timed per configuration')
    parser.add_argument('--rounds', type=int, default=4, help='interleaved rounds the samples are split into')
    parser.add_argument('--num-slices', type=int, default=7)
    parser.add_argument('--no-workers', action='store_true', help='skip the 2-worker DataLoader measurement')
    parser.add_argument('--volumes-root', default=None,
                        help='prepared volume dataset (default: generated 512x512 volumes, --num-volumes)')
    parser.add_argument('--num-volumes', type=int, default=6, help='volumes of the generated dataset')
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
    volumes_root = args.volumes_root
    if volumes_root is None:
        vtmp = tempfile.TemporaryDirectory()
        start = time.perf_counter()
        volumes_root = make_volume_dataset(vtmp.name, args.num_volumes)
        print(f'prepared volume dataset: {args.num_volumes} generated volumes at 512x512 in '
              f'{time.perf_counter() - start:.1f} s')
    disk = tempfile.TemporaryDirectory(prefix='mmdet3dctx_decoded_')  # outside the data tree
    timings = {
        'opencv': Timing(build_dataset(data_root, args.num_slices, png_decoder='opencv')),
        'fast': Timing(build_dataset(data_root, args.num_slices, png_decoder='auto')),
        'fast + disk cache': Timing(build_dataset(data_root, args.num_slices, decode_cache_dir=disk.name)),
        'volume (memmap)': Timing(build_volume_dataset(volumes_root, args.num_slices)),
    }
    volumes = timings['volume (memmap)'].dataset
    vint = sorted({round(volumes.get_data_info(i)['slice_interval'], 3) for i in range(len(volumes))})
    print(f'{len(volumes)} volume training slices of {len(volumes.case_ids())} volumes, slice intervals {vint} mm; '
          f'train pipeline of {osp.relpath(VOLUME_CONFIG)}')
    dataset = timings['fast'].dataset
    intervals = np.array([dataset.get_data_info(i)['slice_interval'] for i in range(len(dataset))])
    print(f'{len(dataset)} key slices, slice intervals {sorted(set(intervals.round(3).tolist()))} mm; '
          f'{args.num_slices} slices 2 mm apart, 512x512, train pipeline of {osp.relpath(CONFIG)}; '
          f'inflate: {png16.INFLATE_BACKEND}')
    cached = timings['fast + disk cache']
    start = time.perf_counter()
    for i in range(len(dataset)):  # one epoch fills the disk cache
        cached.dataset[i]
    print(f'disk cache filled by one pass in {time.perf_counter() - start:.1f} s '
          f'({cached.loader.disk_cache.misses} slices decoded and written)')

    order = sample_order(len(dataset), args.samples)
    vorder = sample_order(len(volumes), args.samples)
    interleaved(timings, order, args.rounds, {'volume (memmap)': vorder})
    print(f'\nper worker (1 process, shuffled order, {args.samples} samples each, {args.rounds} interleaved rounds):')
    print(f'  {"loader":<18} {"samples/s (wall)":>17} {"samples/s (CPU)":>16}   decode cache hit rate')
    for name, t in timings.items():
        print(f'  {name:<18} {t.count / t.wall:17.1f} {t.count / t.cpu:16.1f}   {_hits(t.loader)}')
    v, f = timings['volume (memmap)'], timings['fast']
    print(f'  volume (memmap) / fast per worker: {(v.count / v.wall) / (f.count / f.wall):.2f}x (wall), '
          f'{(v.count / v.cpu) / (f.count / f.cpu):.2f}x (CPU)')
    print('  fast, by series slice interval (wall): ' + ', '.join(
        f'{k:g} mm {len(v) / sum(v):.0f}/s' for k, v in sorted(timings['fast'].by_interval.items())))

    seq = {'fast': Timing(dataset)}
    seq['fast'].reset_caches()
    seq['fast'].run(sample_order(len(dataset), min(args.samples, len(dataset)), shuffle=False))
    t = seq['fast']
    print(f'  fast, file order (e.g. validation): {t.count / t.wall:.1f} samples/s (wall), '
          f'{t.count / t.cpu:.1f} (CPU); decode cache hit rate {_hits(t.loader)}')
    if not args.no_workers:
        for name in ('opencv', 'fast', 'volume (memmap)'):
            rate = with_workers(timings[name].dataset, args.samples, 2)
            print(f'DataLoader, 2 workers, {name}: {rate:.1f} samples/s')
    disk.cleanup()
    if tmp is not None:
        tmp.cleanup()
    if args.volumes_root is None:
        vtmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
