"""Mixed precision on CPU: MMEngine's AmpOptimWrapper asserts an accelerator, this one autocasts to bf16."""
import contextlib
from typing import Sequence

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from .float32_heads import FLOAT32_MODULES, float32_heads


class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast('cpu', dtype)`` (bf16 by default), the detector's
    heads in float32.

    bf16 keeps float32's exponent range, so no loss scaling is needed. The backbone and neck autocast; the heads
    named in ``float32_modules`` run with autocast off on float32 inputs, since MMCV's CPU NMS and RoIAlign take
    float32 only (:func:`~mmdet3dctx.engine.float32_heads`). Used by ``tools/train.py --amp`` on machines without a
    GPU (fp16 with dynamic loss scaling through ``AmpOptimWrapper`` where there is one).

    Args:
        dtype (str | torch.dtype): autocast dtype. Default: 'bfloat16'.
        float32_modules (Sequence[str]): attribute names of the modules run in float32. Default:
            ('rpn_head', 'roi_head').
        **kwargs: as ``OptimWrapper``.
    """

    def __init__(self, *args, dtype='bfloat16', float32_modules: Sequence[str] = FLOAT32_MODULES, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        self.float32_modules = tuple(float32_modules)

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype), \
                float32_heads(model, self.float32_modules):
            yield


# MMEngine's root OPTIM_WRAPPERS: mmengine's build_optim_wrapper builds from it, switching to MMDetection's
# OPTIM_WRAPPERS under default_scope='mmdet', which finds it there, in its parent.
OPTIM_WRAPPERS.register_module(module=CPUAutocastOptimWrapper)
