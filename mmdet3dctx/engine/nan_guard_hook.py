"""Stop training at the first non-finite loss, before anything is saved over the last good checkpoint."""
import math

import torch
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the message names the iteration and the loss terms."""


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss term is NaN or infinite.

    It checks the logged loss terms after every training iteration with ``VERY_HIGH`` priority, i.e. before
    ``CheckpointHook`` runs for that iteration, so the run stops without writing a checkpoint of the broken
    weights; the checkpoints already on disk stay as they were. The message names the iteration (1-based) and
    every offending term, e.g. ``loss_rpn_bbox=nan``.

    Args:
        check_every (int): check every n iterations (a check costs a device sync). Default: 1.
    """
    priority = 'VERY_HIGH'

    def __init__(self, check_every: int = 1) -> None:
        self.check_every = check_every

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs or (runner.iter + 1) % self.check_every:
            return
        bad = {}
        for name, value in outputs.items():
            if 'loss' not in name:
                continue
            v = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(v):
                bad[name] = v
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            raise NonFiniteLossError(f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
                                     f'{terms}; stopped before saving, the last good checkpoint in '
                                     f'{runner.work_dir} is untouched')
