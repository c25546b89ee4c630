"""Runner pieces: the safe runner (atomic checkpoints, clear load errors), the NaN guard, per-epoch reseeding, CPU
mixed precision, drawing detections on CT slices."""
from .cpu_autocast_optim_wrapper import CPUAutocastOptimWrapper
from .ct_det_visualization_hook import CTDetVisualizationHook
from .data_order_hook import DataOrderHook
from .epoch_reseed_hook import EpochReseedHook
from .float32_heads import Float32HeadsHook, cpu_autocast, float32_heads
from .nan_guard_hook import NaNGuardHook, NonFiniteLossError
from .safe_runner import CheckpointError, SafeRunner

__all__ = ['SafeRunner', 'CheckpointError', 'NaNGuardHook', 'NonFiniteLossError', 'EpochReseedHook', 'DataOrderHook',
           'CPUAutocastOptimWrapper', 'CTDetVisualizationHook', 'Float32HeadsHook', 'cpu_autocast', 'float32_heads']
