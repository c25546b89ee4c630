"""Weight helpers for moving 2D (RGB) pretrained kernels into 3D-context models (pure PyTorch)."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Tuple

import torch

INFLATE_MODES = ('average', 'center')
RGB_TO_GREY_MODES = ('sum', 'mean', 'green')


def inflate_2d_weight(weight: torch.Tensor, depth: int, mode: str = 'average', dim: int = 2) -> torch.Tensor:
    """Inflate a 2D kernel ``(C_out, C_in, kh, kw)`` into 3D by inserting a depth axis of length ``depth``.

    ``average``: ``W' = repeat(W, depth) / depth`` (I3D; on a volume whose slices are equal it gives the 2D
    response). ``center``: ``W'[..., depth // 2, ...] = W`` and zeros elsewhere (the network starts from the
    centre slice). ``dim`` is where the depth axis goes (2 for ``(C_out, C_in, d, kh, kw)``).
    """
    if mode not in INFLATE_MODES:
        raise ValueError(f'inflate mode must be one of {INFLATE_MODES}, got {mode!r}')
    if depth < 1:
        raise ValueError(f'depth must be >= 1, got {depth}')
    w = weight.unsqueeze(dim)
    if mode == 'average':
        reps = [1] * w.dim()
        reps[dim] = depth
        return w.repeat(*reps) / depth
    shape = list(w.shape)
    shape[dim] = depth
    out = weight.new_zeros(shape)
    out.narrow(dim, depth // 2, 1).copy_(w)
    return out


def rgb_to_grey(weight: torch.Tensor, mode: str = 'sum', channel_dim: int = 1) -> torch.Tensor:
    """Reduce a kernel pretrained on RGB input (3 input channels) to one grey input channel.

    ``sum`` is exact for a grey image fed as RGB (``R = G = B``); ``mean`` keeps the response scale of one
    channel; ``green`` keeps the green kernel (what older reference code did).
    """
    if weight.shape[channel_dim] != 3:
        raise ValueError(f'rgb_to_grey expects 3 input channels on dim {channel_dim}, got shape '
                         f'{tuple(weight.shape)}')
    if mode == 'sum':
        return weight.sum(channel_dim, keepdim=True)
    if mode == 'mean':
        return weight.mean(channel_dim, keepdim=True)
    if mode == 'green':
        return weight.narrow(channel_dim, 1, 1).clone()
    raise ValueError(f'rgb_to_grey mode must be one of {RGB_TO_GREY_MODES}, got {mode!r}')


def inflate_patch_embedding(weight: torch.Tensor, num_slices: int, mode: str = 'center',
                            rgb_mode: str = 'sum') -> torch.Tensor:
    """Turn an RGB patch embedding ``(C, 3, P, P)`` (any ``Conv2d`` over RGB) into one over ``num_slices`` grey
    slices stacked as channels, ``(C, D, P, P)``.

    RGB is reduced to grey first (:func:`rgb_to_grey`, ``sum`` by default: exact for a grey image fed as RGB),
    then spread over the slices: ``center`` puts it on the key slice ``D // 2`` with zeros elsewhere (the model
    starts as the 2D model on the key slice); ``average`` gives every slice ``W / D`` (on a volume whose slices
    are all equal it is the 2D model). A grey ``(C, 1, P, P)`` embedding skips the reduction.
    """
    if mode not in INFLATE_MODES:
        raise ValueError(f'inflate mode must be one of {INFLATE_MODES}, got {mode!r}')
    if weight.dim() != 4 or weight.shape[1] not in (1, 3):
        raise ValueError(f'expected a (C, 3, P, P) or (C, 1, P, P) patch embedding, got {tuple(weight.shape)}')
    grey = rgb_to_grey(weight, rgb_mode) if weight.shape[1] == 3 else weight
    if mode == 'average':
        return grey.repeat(1, num_slices, 1, 1) / num_slices
    out = grey.new_zeros((grey.shape[0], num_slices) + tuple(grey.shape[2:]))
    out[:, num_slices // 2] = grey[:, 0]
    return out


def inflate_state_dict(state_dict: Mapping[str, torch.Tensor],
                       target: Mapping[str, torch.Tensor],
                       inflate: str = 'average',
                       rgb_mode: str = 'sum') -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, List[str]]]:
    """Map a 2D state dict onto a 3D model's state dict (keys already matched).

    For each key present in both: equal shapes are copied; a 4D kernel whose target is 5D is inflated along
    depth (``inflate``; a target depth of 1 is a plain unsqueeze); a kernel with 3 input channels whose target
    has 1 is first reduced by :func:`rgb_to_grey` (``rgb_mode``). Anything else is reported, never guessed.

    Returns:
        tuple: the state dict to load (only converted keys) and a report with the lists ``copied``,
        ``inflated``, ``rgb_reduced``, ``shape_mismatch``, ``missing`` (in target only) and ``unexpected``
        (in source only).
    """
    out = OrderedDict()
    report = {k: [] for k in ('copied', 'inflated', 'rgb_reduced', 'shape_mismatch', 'missing', 'unexpected')}
    for key, value in state_dict.items():
        if key not in target:
            report['unexpected'].append(key)
            continue
        tgt = target[key]
        if tuple(value.shape) == tuple(tgt.shape):
            out[key] = value
            report['copied'].append(key)
            continue
        if value.dim() in (4, 5) and value.dim() <= tgt.dim() and value.shape[1] == 3 and tgt.shape[1] == 1:
            value = rgb_to_grey(value, rgb_mode)
            report['rgb_reduced'].append(key)
        if value.dim() == 4 and tgt.dim() == 5 and tuple(value.shape[:2]) == tuple(tgt.shape[:2]):
            if tuple(value.shape[2:]) == tuple(tgt.shape[3:]):
                out[key] = inflate_2d_weight(value, tgt.shape[2], inflate)
                report['inflated'].append(key)
                continue
        if tuple(value.shape) == tuple(tgt.shape):
            out[key] = value
            report['copied'].append(key)
            continue
        report['shape_mismatch'].append(f'{key}: {tuple(value.shape)} -> {tuple(tgt.shape)}')
    report['missing'] = [k for k in target if k not in state_dict]
    return out, report
