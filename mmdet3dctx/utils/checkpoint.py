"""Loading MMEngine checkpoints under PyTorch's ``weights_only`` default (torch >= 2.6)."""
import torch

_DONE = False


def allow_mmengine_checkpoints() -> None:
    """Allow-list the few non-tensor types MMEngine checkpoints hold (the message hub's ``HistoryBuffer``
    with its bound statistics methods, pickled through ``getattr``; numpy arrays, dtypes and scalars;
    ``collections.Counter`` of the multi-step schedulers) for ``torch.load(weights_only=True)``, instead of
    turning the check off.
    Idempotent; a no-op on PyTorch without ``add_safe_globals``."""
    global _DONE
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if _DONE or add is None:
        return
    import numpy as np
    from mmengine.logging import HistoryBuffer
    import collections
    safe = [HistoryBuffer, np.ndarray, np.dtype, getattr, collections.Counter, collections.OrderedDict]
    for mod_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            mod = __import__(mod_name, fromlist=['_reconstruct', 'scalar'])
            safe += [mod._reconstruct, mod.scalar]
            break
        except (ImportError, AttributeError):
            continue
    safe += [type(np.dtype(t)) for t in ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
                                         'uint8', 'bool')]
    add(safe)
    _DONE = True
