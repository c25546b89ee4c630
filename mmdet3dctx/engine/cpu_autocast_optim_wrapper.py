"""Mixed precision on CPU: MMEngine's AmpOptimWrapper asserts an accelerator, this one autocasts to bf16."""
import contextlib

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmdet.registry import OPTIM_WRAPPERS


class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast('cpu', dtype)`` (bf16 by default).

    bf16 keeps float32's exponent range, so no loss scaling is needed. Used by ``tools/train.py --amp`` on
    machines without a GPU (fp16 with dynamic loss scaling through ``AmpOptimWrapper`` where there is one).

    Args:
        dtype (str | torch.dtype): autocast dtype. Default: 'bfloat16'.
        **kwargs: as ``OptimWrapper``.
    """

    def __init__(self, *args, dtype='bfloat16', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield


OPTIM_WRAPPERS.register_module(module=CPUAutocastOptimWrapper)
if 'CPUAutocastOptimWrapper' not in MMENGINE_OPTIM_WRAPPERS.module_dict:
    MMENGINE_OPTIM_WRAPPERS.register_module(module=CPUAutocastOptimWrapper)
