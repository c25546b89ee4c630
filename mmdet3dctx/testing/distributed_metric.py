"""An MMEngine metric evaluated by several processes at once (gloo on the CPU), as distributed testing runs it."""
import os
import socket
from typing import Dict, List, Sequence


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _metric_worker(rank: int, world_size: int, port: int, metric_cfg: dict, samples: Sequence[list], size: int,
                   queue) -> None:
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        import mmdet3dctx  # noqa: F401  (registers the metrics)
        from mmdet.registry import METRICS
        metric = METRICS.build(metric_cfg)
        metric.process({}, samples[rank])
        queue.put((rank, metric.evaluate(size)))
    finally:
        dist.destroy_process_group()


def evaluate_metric_on_ranks(metric_cfg: dict, samples: Sequence[List[dict]], size: int) -> Dict[int, dict]:
    """Build ``metric_cfg`` in ``len(samples)`` processes; rank ``r`` processes ``samples[r]`` (as a distributed
    sampler splits a dataset of ``size`` samples) and evaluates. Returns each rank's metrics."""
    import torch.multiprocessing as mp
    world_size = len(samples)
    queue = mp.get_context('spawn').SimpleQueue()
    mp.start_processes(_metric_worker, args=(world_size, free_port(), dict(metric_cfg), list(samples), size, queue),
                       nprocs=world_size, join=True, start_method='spawn')
    return dict(queue.get() for _ in range(world_size))
