"""Training-loop pieces: the safe runner (atomic checkpoints, clear load errors), the NaN guard, per-epoch reseeding."""
from .cpu_autocast_optim_wrapper import CPUAutocastOptimWrapper
from .data_order_hook import DataOrderHook
from .epoch_reseed_hook import EpochReseedHook
from .nan_guard_hook import NaNGuardHook, NonFiniteLossError
from .safe_runner import CheckpointError, SafeRunner

__all__ = ['SafeRunner', 'CheckpointError', 'NaNGuardHook', 'NonFiniteLossError', 'EpochReseedHook', 'DataOrderHook',
           'CPUAutocastOptimWrapper']
