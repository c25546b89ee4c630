"""Loading MMEngine checkpoints under PyTorch's ``weights_only`` default (torch >= 2.6)."""
import torch

_DONE = False


def _history_buffer_getattr(obj, name):
    """The only ``getattr`` a checkpoint may call while loading: the statistics methods of MMEngine's
    ``HistoryBuffer`` (its pickled state refers to them by name). Anything else is refused."""
    from mmengine.logging import HistoryBuffer
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) and name in ('min', 'max', 'mean', 'current'):
        return getattr(obj, name)
    raise RuntimeError(f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint')


# the weights-only unpickler looks globals up by module and name: this stands for ``builtins.getattr``
_history_buffer_getattr.__module__ = 'builtins'
_history_buffer_getattr.__name__ = _history_buffer_getattr.__qualname__ = 'getattr'


def allow_mmengine_checkpoints() -> None:
    """Allow-list the few non-tensor types MMEngine checkpoints hold for ``torch.load(weights_only=True)``,
    instead of turning the check off: the message hub's ``HistoryBuffer`` (its pickled statistics methods are
    fetched through ``getattr``, which is replaced by a version restricted to those methods), numpy arrays,
    dtypes and scalars, ``collections.Counter``/``OrderedDict`` of the schedulers, ``_codecs.encode`` of
    pickled bytes. Idempotent; a no-op on PyTorch without ``add_safe_globals``."""
    global _DONE
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if _DONE or add is None:
        return
    import _codecs
    import collections

    import numpy as np
    from mmengine.logging import HistoryBuffer
    safe = [HistoryBuffer, np.ndarray, np.dtype, collections.Counter, collections.OrderedDict, _codecs.encode,
            _history_buffer_getattr]
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
