"""Whole-detector weight transfer across slice counts (D' -> D) and class sets (e.g. 80 COCO -> 1 lesion)."""
from collections import OrderedDict
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn

from mmdet3dctx.ops import A3DConv

TRANSFER_MODES = ('center', 'average')
#: names of the last, class-specific layers of MMDetection heads (their shapes depend on the class count)
CLASS_SPECIFIC = ('fc_cls', 'fc_reg', 'conv_logits', 'conv_cls', 'retina_cls', 'atss_cls', 'gfl_cls')


def _check_mode(mode: str) -> None:
    if mode not in TRANSFER_MODES:
        raise ValueError(f'inflate mode must be one of {TRANSFER_MODES}, got {mode!r}')


def transfer_depth_kernel(weight: torch.Tensor, depth: int, mode: str = 'center', dim: int = 2) -> torch.Tensor:
    """Map a kernel whose axis ``dim`` runs over D' slices to D slices.

    Used for the ``D x 1 x 1`` reduction convs (``(C, C, D, 1, 1)``, ``dim=2``) and the GTM group weights
    (``(C, D, 1, 1)``, ``dim=1``).

    - ``center``, ``D >= D'``: the D' taps are placed on the central slices (offset ``D // 2 - D' // 2``),
      zeros elsewhere. Guarantee: on any D-slice input, the result equals the source reduction applied to the
      central D' slices.
    - ``center``, ``D < D'``: the central D taps are kept. Guarantee: the result on a D-slice input equals the
      source reduction on that input zero-padded to D' slices (exact when the dropped taps see zeros).
    - ``average``: every tap becomes the mean of the source taps, ``w'[d] = sum_k w[k] / D``. Guarantee: on a
      volume whose slices are all equal, the result equals the source reduction.

    Example:
        >>> w = torch.tensor([1., 2., 3.]).view(1, 1, 3, 1, 1)
        >>> transfer_depth_kernel(w, 5).flatten().tolist()
        [0.0, 1.0, 2.0, 3.0, 0.0]
        >>> transfer_depth_kernel(w, 2, 'average').flatten().tolist()
        [3.0, 3.0]
    """
    _check_mode(mode)
    src = weight.shape[dim]
    if depth < 1:
        raise ValueError(f'depth must be >= 1, got {depth}')
    if mode == 'average':
        mean = weight.sum(dim, keepdim=True) / depth
        reps = [1] * weight.dim()
        reps[dim] = depth
        return mean.repeat(*reps)
    if depth >= src:
        shape = list(weight.shape)
        shape[dim] = depth
        out = weight.new_zeros(shape)
        out.narrow(dim, depth // 2 - src // 2, src).copy_(weight)
        return out
    return weight.narrow(dim, src // 2 - depth // 2, depth).clone()


def transfer_a3d_matrix(weight: torch.Tensor, num_slices: int) -> torch.Tensor:
    """Map A3D slice-mixing matrices ``P`` ``(D', D', C)`` to ``(D, D, C)``.

    - ``D >= D'``: ``P`` is embedded at the centre (offset ``D // 2 - D' // 2``) of a D x D identity.
      Guarantee: the D-slice mixing equals the source mixing on the central D' slices and passes the outer
      slices through unchanged (so ``A3DConv`` gives the source output on the central slices and no-fusion
      outputs on the others).
    - ``D < D'``: the central D x D block is kept. Guarantee: equal to the source mixing on the central slices
      whenever the source does not mix outer slices into them (block-diagonal ``P``).

    Example:
        >>> p = torch.full((1, 1, 1), 5.)
        >>> transfer_a3d_matrix(p, 3)[..., 0].tolist()
        [[1.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 1.0]]
    """
    src = weight.shape[0]
    if weight.dim() != 3 or weight.shape[1] != src:
        raise ValueError(f'A3D fusion weights are (D, D, C), got {tuple(weight.shape)}')
    if num_slices >= src:
        o = num_slices // 2 - src // 2
        out = torch.eye(num_slices, dtype=weight.dtype).unsqueeze(-1).repeat(1, 1, weight.shape[2])
        out[o:o + src, o:o + src] = weight
        return out
    o = src // 2 - num_slices // 2
    return weight[o:o + num_slices, o:o + num_slices].clone()


class TransferRow(NamedTuple):
    """One line of the transfer table."""
    key: str
    action: str  # copied | mapped | re-initialised | kept (not in source) | dropped (not in target)
    src_shape: Optional[Tuple[int, ...]]
    dst_shape: Optional[Tuple[int, ...]]
    note: str = ''


def slice_dependent_tensors(model: nn.Module) -> Dict[str, Tuple[str, int]]:
    """``{state-dict key: (rule, depth axis)}`` of the tensors whose shape depends on the slice count.

    Found by module type: ``SliceReduction`` reducers (``'reduction-conv'``, axis 2; ``'gtm'``, axis 1) and
    ``A3DConv.fusion_weight`` (``'a3d'``).
    """
    from mmdet3dctx.models.necks.slice_reduction import SliceReduction
    out = {}
    for name, m in model.named_modules():
        prefix = f'{name}.' if name else ''
        if isinstance(m, SliceReduction) and m.mode in ('conv', 'gtm'):
            for i in range(len(m.reducers)):
                out[f'{prefix}reducers.{i}.weight'] = ('reduction-conv', 2) if m.mode == 'conv' else ('gtm', 1)
        elif isinstance(m, A3DConv):
            out[f'{prefix}fusion_weight'] = ('a3d', 0)
    return out


def transfer_state_dict(src: Mapping[str, torch.Tensor],
                        dst_model: nn.Module,
                        inflate: str = 'center') -> Tuple['OrderedDict[str, torch.Tensor]', List[TransferRow]]:
    """Initialise ``dst_model``'s state dict from a source detector's (another slice count and/or classes).

    Every tensor of equal shape is copied; slice-count-dependent tensors (see
    :func:`slice_dependent_tensors`) are mapped by :func:`transfer_depth_kernel` (``inflate``) or
    :func:`transfer_a3d_matrix`; class-specific layers (:data:`CLASS_SPECIFIC`) of another shape keep the
    destination's fresh initialisation ("re-initialised"); so does any other tensor of another shape (reported
    with its shapes). Tensors only in the destination keep their initialisation, tensors only in the source
    are dropped.

    Args:
        src (Mapping[str, Tensor]): Source state dict.
        dst_model (nn.Module): The initialised destination model (its state dict gives shapes and the values
            of re-initialised tensors).
        inflate (str): ``'center'`` or ``'average'`` for the depth kernels. Default: 'center'.

    Returns:
        tuple: the complete destination state dict and the table rows.

    Example:
        >>> from mmdet3dctx.models.necks import SliceReduction
        >>> src = SliceReduction([4], num_slices=3, mode='gtm').state_dict()
        >>> sd, rows = transfer_state_dict(src, SliceReduction([4], num_slices=7, mode='gtm'))
        >>> rows[0].action, rows[0].src_shape, rows[0].dst_shape, rows[0].note
        ('mapped', (4, 3, 1, 1), (4, 7, 1, 1), 'gtm, center: 3 -> 7 slices')
    """
    _check_mode(inflate)
    dst = dst_model.state_dict()
    rules = slice_dependent_tensors(dst_model)
    out, rows = OrderedDict(), []
    for key, target in dst.items():
        shape = tuple(target.shape)
        if key not in src:
            out[key] = target
            rows.append(TransferRow(key, 'kept (not in source)', None, shape))
            continue
        value = src[key]
        sshape = tuple(value.shape)
        if sshape == shape:
            out[key] = value.to(target.dtype)
            rows.append(TransferRow(key, 'copied', sshape, shape))
            continue
        if key in rules:
            rule, axis = rules[key]
            if rule == 'a3d':
                mapped = transfer_a3d_matrix(value, shape[0])
                note = f'a3d: {sshape[0]} -> {shape[0]} slices (' + (
                    'centre of an identity)' if shape[0] >= sshape[0] else 'centre crop)')
            else:
                mapped = transfer_depth_kernel(value, shape[axis], inflate, dim=axis)
                note = f'{rule}, {inflate}: {sshape[axis]} -> {shape[axis]} slices'
            if tuple(mapped.shape) != shape:
                raise ValueError(f'{key}: cannot map {sshape} to {shape} by the {rule} rule (other channels?)')
            out[key] = mapped.to(target.dtype)
            rows.append(TransferRow(key, 'mapped', sshape, shape, note))
            continue
        out[key] = target
        name = key.rsplit('.', 2)[-2] if key.count('.') else key
        why = 'class-specific' if name in CLASS_SPECIFIC else 'shape mismatch'
        rows.append(TransferRow(key, 're-initialised', sshape, shape, why))
    for key, value in src.items():
        if key not in dst:
            rows.append(TransferRow(key, 'dropped (not in target)', tuple(value.shape), None))
    return out, rows


def format_transfer_table(rows: List[TransferRow], copied_detail: bool = False) -> str:
    """A plain-text table: one line per mapped / re-initialised / kept / dropped tensor, copied tensors
    counted per top-level module (or listed with ``copied_detail``), then the totals."""
    lines = [f'{"tensor":<60} {"action":<24} {"source":<22} {"target":<22} note']

    def fmt(shape):
        return '-' if shape is None else str(tuple(shape))

    copied: Dict[str, int] = OrderedDict()
    for r in rows:
        if r.action == 'copied' and not copied_detail:
            top = r.key.split('.')[0]
            copied[top] = copied.get(top, 0) + 1
            continue
        lines.append(f'{r.key:<60} {r.action:<24} {fmt(r.src_shape):<22} {fmt(r.dst_shape):<22} {r.note}')
    for top, n in copied.items():
        lines.append(f'{top + ".*":<60} {"copied":<24} {"(same shapes)":<22} {"":<22} {n} tensors')
    totals = OrderedDict()
    for r in rows:
        totals[r.action] = totals.get(r.action, 0) + 1
    lines.append('total: ' + ', '.join(f'{n} {a}' for a, n in totals.items()))
    return '\n'.join(lines)
