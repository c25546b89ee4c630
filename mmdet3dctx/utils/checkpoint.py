"""Reading checkpoints: local files, URLs downloaded once into torch.hub's cache (:func:`read_checkpoint`, and
:func:`read_state_dict` for the tensors), and MMEngine checkpoints under PyTorch's ``weights_only`` default
(torch >= 2.6, :func:`allow_mmengine_checkpoints`, called by every reader: these functions and
:class:`~mmdet3dctx.engine.SafeRunner`'s loading)."""
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Optional
from urllib.parse import urlparse

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
    pickled bytes. Called by the readers before they load (idempotent and cheap: the list is added once per
    process); a no-op on PyTorch without ``add_safe_globals``."""
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


#: the config option that points a backbone at a local copy of its pretrained weights
BACKBONE_CHECKPOINT_OPTION = 'model.backbone.init_cfg.checkpoint'
_URL = re.compile(r'^[a-z][a-z0-9+.-]*://', re.I)


def _torchvision_url(name: str) -> str:
    """The download URL of ``torchvision://NAME`` (MMEngine's table; torchvision itself is not imported)."""
    import mmengine
    urls = mmengine.load(osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))
    if name not in urls:
        raise KeyError(f'torchvision://{name}: unknown model name; known: {", ".join(sorted(urls))}')
    return urls[name]


def _download(url: str, option: str) -> str:
    """Download ``url`` once into torch.hub's cache (``$TORCH_HOME/hub/checkpoints``, where torch.hub and MMEngine
    keep it too) and return the cached file; in distributed runs rank 0 downloads while the others wait."""
    from mmengine.dist import barrier, get_dist_info
    from torch import hub
    name = osp.basename(urlparse(url).path)
    cached = osp.join(hub.get_dir(), 'checkpoints', name)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        os.makedirs(osp.dirname(cached), exist_ok=True)
        try:
            hub.download_url_to_file(url, cached, progress=sys.stderr.isatty())
        except Exception as e:  # noqa: BLE001 (offline, proxy, HTTP error: all end the same way)
            raise RuntimeError(
                f'cannot download {url} ({type(e).__name__}: {e}). Without internet access, download it on another '
                f'machine and point the config at the local copy:\n    --cfg-options {option}=/path/to/{name}\n'
                f'(or put it at {cached}, where it is looked for first)') from e
    if world_size > 1:
        barrier()
    return cached


def read_checkpoint(source: str, option: str = BACKBONE_CHECKPOINT_OPTION, logger: Optional[str] = 'silent'):
    """Read a whole checkpoint: what ``torch.load`` gives for the file (an MMEngine checkpoint's ``state_dict``,
    ``meta``, ``message_hub``, ``optimizer``...; a torchvision file's state dict).

    ``source`` is a local file, an ``https://`` URL (downloaded once into torch.hub's cache, then read from
    there) or ``torchvision://NAME`` (the URL of torchvision's file, as in MMDetection configs). Files load
    through MMEngine's ``CheckpointLoader`` under PyTorch's ``weights_only`` check, with MMEngine's own types
    allow-listed (:func:`allow_mmengine_checkpoints`), onto the CPU.

    Args:
        source (str): Path, URL or ``torchvision://`` name.
        option (str): The config option that sets ``source``, named in the error when a download fails.
            Default: ``'model.backbone.init_cfg.checkpoint'``.
        logger (str, optional): MMEngine logger of MMEngine's loading message (None: printed); the callers log
            what they loaded. Default: 'silent'.

    Raises:
        FileNotFoundError: a local ``source`` that does not exist.
        RuntimeError: a URL that cannot be downloaded; the message names the URL and ``--cfg-options
            <option>=/path/to/<file>``, the way to use a local copy.
        ValueError: an unsupported URL scheme.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    source = str(source)
    if source.startswith(('torchvision://', 'modelzoo://')):
        source = _torchvision_url(source.split('://', 1)[1])
    if source.startswith(('http://', 'https://')):
        path = _download(source, option)
    elif _URL.match(source):
        raise ValueError(f'{source}: unsupported scheme; give a local file, an https:// URL or torchvision://NAME')
    else:
        path = osp.expanduser(source)
        if not osp.isfile(path):
            raise FileNotFoundError(f'checkpoint file not found: {source}')
    allow_mmengine_checkpoints()
    return CheckpointLoader.load_checkpoint(path, map_location='cpu', logger=logger)


def read_state_dict(source: str, option: str = BACKBONE_CHECKPOINT_OPTION,
                    logger: Optional[str] = 'silent') -> 'OrderedDict[str, torch.Tensor]':
    """Read the state dict of a checkpoint (:func:`read_checkpoint`): the weights of every loader in mmdet3dctx.

    The tensors are taken from the ``state_dict`` entry (MMEngine / MMDetection), the ``model`` entry (the Swin
    authors' files) or the dict itself (torchvision); a DataParallel ``module.`` prefix is removed. The entry's
    ``_metadata`` (the modules' state-dict versions, which ``load_state_dict`` reads) is kept.

    Args:
        source, option, logger: as :func:`read_checkpoint`.

    Returns:
        OrderedDict[str, Tensor]: the tensors of the checkpoint.

    Raises:
        FileNotFoundError, RuntimeError: as :func:`read_checkpoint`.
        ValueError: an unsupported URL scheme, or a file that holds no tensors.
    """
    ckpt = read_checkpoint(source, option, logger)
    if isinstance(ckpt, dict):
        for key in ('state_dict', 'model'):
            if isinstance(ckpt.get(key), dict):
                ckpt = ckpt[key]
                break
    state = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in ckpt.items()
                        if isinstance(v, torch.Tensor)) if isinstance(ckpt, dict) else OrderedDict()
    if not state:
        raise ValueError(f'{source}: no state dict of tensors in the checkpoint')
    metadata = getattr(ckpt, '_metadata', None)
    if metadata is not None:
        state._metadata = metadata
    return state
