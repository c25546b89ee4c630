"""Randomness that depends on the epoch only, so a resumed run repeats the epochs it redoes exactly."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module()
class EpochReseedHook(Hook):
    """Reseed Python, NumPy and PyTorch at the start of every training epoch from ``(seed, epoch)``.

    MMEngine seeds once at start-up and its checkpoints do not hold the random generators' states, so a run
    resumed from the checkpoint of epoch k draws other augmentations in epoch k + 1 than the uninterrupted run
    did. With this hook the draws of an epoch depend on the seed and the epoch number alone (the sampler's
    shuffling already does), so killing a job mid-epoch and resuming from its last checkpoint reproduces the
    uninterrupted run's weights. Data-loader workers are seeded by MMEngine from the same seed, the rank and
    the epoch.

    Args:
        seed (int, optional): base seed; default: the runner's seed.
    """
    priority = 'VERY_HIGH'

    def __init__(self, seed=None) -> None:
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        s = (int(base) * 1000003 + runner.epoch * 7919 + runner.rank) % (2**32)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
