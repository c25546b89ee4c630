"""CPU mixed precision for detectors: the backbone and neck autocast to bf16, the heads stay in float32.

MMCV's CPU NMS and RoIAlign take float32 only, so under ``torch.autocast('cpu')`` a detector's heads must run with
autocast off and float32 inputs. That is a precision policy, kept here (used by :class:`CPUAutocastOptimWrapper`
for training and by :class:`Float32HeadsHook` for the validation and test loops), not in the detectors.
"""
import contextlib
from typing import Iterator, Sequence

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS

#: The heads of MMDetection's two-stage detectors.
FLOAT32_MODULES = ('rpn_head', 'roi_head')
_LOW_PRECISION = (torch.bfloat16, torch.float16)


def _to_float32(obj):
    """``obj`` with its low-precision CPU tensors (also inside tuples, lists and dicts) cast to float32."""
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.device.type == 'cpu' and obj.dtype in _LOW_PRECISION else obj
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_float32(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_float32(v) for k, v in obj.items()}
    return obj


@contextlib.contextmanager
def float32_heads(model: nn.Module, float32_modules: Sequence[str] = FLOAT32_MODULES) -> Iterator[None]:
    """Run the submodules named in ``float32_modules`` (and what follows them in a forward) in float32 under CPU
    autocast; modules around them keep the autocast dtype.

    Inside the context, the first call into any module of a head switches CPU autocast off and casts its CPU bf16
    or fp16 inputs to float32, so the heads' layers, their losses and their post-processing (NMS, RoIAlign) see
    float32; the next call of another top-level module of ``model`` (the backbone of the next forward) switches
    autocast back on. Leaving the enclosing ``torch.autocast`` context restores its state as usual. Without CPU
    autocast the context changes nothing; CUDA tensors are never cast.

    Args:
        model (nn.Module): the detector (or a model wrapper around it).
        float32_modules (Sequence[str]): attribute names of the heads. Default: ('rpn_head', 'roi_head').
    """
    model = model.module if is_model_wrapper(model) else model
    heads = [getattr(model, name) for name in float32_modules if isinstance(getattr(model, name, None), nn.Module)]
    in_heads = {id(m) for head in heads for m in head.modules()}
    switched_off = [False]

    def enter_head(module, args, kwargs):
        if torch.is_autocast_enabled('cpu'):
            torch.set_autocast_enabled('cpu', False)
            switched_off[0] = True
        return _to_float32(args), _to_float32(kwargs)

    def leave_heads(module, args):
        if switched_off[0]:
            torch.set_autocast_enabled('cpu', True)
            switched_off[0] = False

    handles = [m.register_forward_pre_hook(enter_head, with_kwargs=True) for head in heads for m in head.modules()]
    handles += [child.register_forward_pre_hook(leave_heads) for child in model.children()
                if id(child) not in in_heads]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def cpu_autocast(model: nn.Module,
                 dtype: torch.dtype = torch.bfloat16,
                 float32_modules: Sequence[str] = FLOAT32_MODULES) -> Iterator[None]:
    """``torch.autocast('cpu', dtype)`` over ``model``'s forward with its heads in float32 (:func:`float32_heads`).

    Example:
        >>> with cpu_autocast(detector):  # doctest: +SKIP
        ...     losses = detector.loss(inputs, data_samples)  # backbone and neck in bf16, heads in float32
    """
    with torch.autocast('cpu', dtype=dtype), float32_heads(model, float32_modules):
        yield


@HOOKS.register_module()
class Float32HeadsHook(Hook):
    """Keep the heads in float32 in the validation and test loops when they autocast on CPU.

    MMEngine's loops autocast with ``val_cfg``/``test_cfg`` ``fp16=True`` (bf16 on CPU); MMCV's CPU NMS and RoIAlign
    then need the heads in float32, which this hook arranges (:func:`float32_heads`) for the loops' duration.
    Training precision is the optimiser wrapper's (``CPUAutocastOptimWrapper``). Use:
    ``test_cfg = dict(type='TestLoop', fp16=True)`` and ``custom_hooks = [dict(type='Float32HeadsHook')]``.

    Args:
        float32_modules (Sequence[str]): attribute names of the heads. Default: ('rpn_head', 'roi_head').
    """
    priority = 'NORMAL'

    def __init__(self, float32_modules: Sequence[str] = FLOAT32_MODULES) -> None:
        self.float32_modules = tuple(float32_modules)
        self._stack = None

    def _enter(self, runner) -> None:
        self._leave(runner)
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(float32_heads(runner.model, self.float32_modules))

    def _leave(self, runner, *args, **kwargs) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    before_val_epoch = before_test_epoch = _enter
    after_val_epoch = after_test_epoch = _leave
