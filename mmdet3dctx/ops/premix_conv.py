"""A per-slice convolution after a linear slice mix, as one autograd node: ``Y = conv(M(X))``.

A3D, TSM and AlignShift all mix slices with a linear map ``M`` and then convolve each slice with the 2D kernel.
Written as two autograd nodes, the pair allocates two extra activation-sized tensors per step (``M(X)`` in the
forward and ``Mᵀ(dL/dM(X))`` in the backward) and passes over them twice; on a CPU, where fresh large tensors are
paid for in page faults, that costs more than the mix itself. Here the backward applies ``Mᵀ`` to the
convolution's own input gradient (a buffer this node owns), **in place** for the shifts (which touch only the
shifted quarter of the channels), so a shift costs one allocation and one pass forward and a partial in-place
pass backward. First-order gradients only (``once_differentiable``); under autocast the operators
use their plain two-node form.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F


class SliceMix:
    """A linear map over the slices of ``(N, C, D, H, W)`` with an in-place adjoint."""

    def apply(self, x: torch.Tensor, param: Optional[torch.Tensor]) -> torch.Tensor:
        """``M(x)`` as a new tensor."""
        raise NotImplementedError

    def adjoint_(self, g: torch.Tensor, param: Optional[torch.Tensor]) -> torch.Tensor:
        """``Mᵀ(g)``, written into ``g`` where the mix allows it (``g`` is a buffer the caller owns)."""
        raise NotImplementedError

    def param_grad(self, x: torch.Tensor, g: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        """``dL/dparam`` from the input ``x`` and ``g = dL/dM(x)`` (only for a learned ``param``)."""
        raise NotImplementedError


class ShiftMix(SliceMix):
    """TSM / AlignShift: channels ``[0, fold)`` mix in slice ``d + 1``, ``[fold, 2·fold)`` slice ``d − 1``
    (zeros past the ends): ``(1 − r)·x[d] + r·x[d ± 1]`` with ``r`` ``(N,)`` given as ``param``, or the plain
    shift (``r = 1``) when ``param`` is None. The other channels are kept.

    Forward and adjoint run slice by slice in place, ordered so that every slice is read before it is
    overwritten; the adjoint of "take ``d + 1``" is "take ``d − 1``" with the same ``r``.
    """

    def __init__(self, fold: int) -> None:
        self.fold = fold

    @staticmethod
    def _mix_(t: torch.Tensor, r: Optional[torch.Tensor], step: int) -> None:
        """In place along dim 2: ``t[d] = (1 − r)·t[d] + r·t[d + step]``, zero past the ends."""
        depth = t.shape[2]
        order = range(depth - 1) if step == 1 else range(depth - 1, 0, -1)
        for d in order:
            dst, src = t[:, :, d], t[:, :, d + step]
            if r is None:
                dst.copy_(src)
            else:
                dst.mul_(1 - r).addcmul_(src, r)
        edge = t[:, :, depth - 1] if step == 1 else t[:, :, 0]
        edge.zero_() if r is None else edge.mul_(1 - r)

    def run_(self, t: torch.Tensor, ratio: Optional[torch.Tensor], reverse: bool) -> torch.Tensor:
        """The mix (or, with ``reverse``, its adjoint) written into ``t``."""
        r = None if ratio is None else ratio.to(t.dtype).view(-1, 1, 1, 1)
        up, down = (-1, 1) if reverse else (1, -1)
        self._mix_(t[:, :self.fold], r, up)
        self._mix_(t[:, self.fold:2 * self.fold], r, down)
        return t

    def apply(self, x, param):
        out = torch.empty_like(x, memory_format=torch.contiguous_format).copy_(x)
        return self.run_(out, param, reverse=False)

    def adjoint_(self, g, param):
        return self.run_(g, param, reverse=True)


class A3DMix(SliceMix):
    """A3D: ``X' = einsum('ncdhw,dkc->nckhw', X, P)`` with ``param = P`` ``(D, D, C)``.

    All three products are batched matrix products over the ``N·C`` (slice × pixel) blocks of contiguous
    views, with the small ``D × D`` matrices made contiguous first (a strided mix operand costs ~2× here).
    The adjoint returns a new tensor: a chunked in-place version measured slower (its copy-back pass costs
    more than the allocation it saves).
    """

    @staticmethod
    def _batched(mat: torch.Tensor, n: int) -> torch.Tensor:
        """``(C, a, b)`` -> ``(N·C, a, b)``, one contiguous copy per sample (tiny: ``D²·C`` values)."""
        return mat.unsqueeze(0).expand(n, *mat.shape).reshape(n * mat.shape[0], *mat.shape[1:])

    def apply(self, x, param):
        n, c, d, h, w = x.shape
        mix = self._batched(param.permute(2, 1, 0).to(x.dtype), n)  # (N·C, K, D): out[k] = sum_d P[d, k] x[d]
        return torch.bmm(mix, x.reshape(n * c, d, h * w)).view(n, c, d, h, w)

    def adjoint_(self, g, param):
        n, c, d, h, w = g.shape
        mix_t = self._batched(param.permute(2, 0, 1).to(g.dtype), n)  # (N·C, D, K): g_x[d] = sum_k P[d, k] g[k]
        return torch.bmm(mix_t, g.reshape(n * c, d, h * w)).view(n, c, d, h, w)

    def param_grad(self, x, g, param):
        n, c, d, h, w = x.shape
        # dL/dP[d, k, c] = sum_{n, hw} x[n, c, d] * g[n, c, k]
        gp = torch.bmm(x.reshape(n * c, d, h * w), g.reshape(n * c, d, h * w).transpose(1, 2))
        return gp.view(n, c, d, d).sum(0).permute(1, 2, 0).to(param.dtype)  # (C, D, K) -> (D, K, C)


class _PremixConvFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, weight, bias, param, mix, conv_args):
        stride, padding, dilation, groups = conv_args
        mixed = mix.apply(x, param)
        w5 = weight.unsqueeze(2)
        out = F.conv3d(mixed, w5, bias, stride, padding, dilation, groups)
        learned = param is not None and param.requires_grad
        ctx.save_for_backward(x if learned else None, mixed, weight, param)
        ctx.mix, ctx.conv_args, ctx.has_bias = mix, conv_args, bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, mixed, weight, param = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv_args
        need_x, need_w, need_b, need_p = ctx.needs_input_grad[:4]
        grad_mixed, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad_out.contiguous(), mixed, weight.unsqueeze(2), [weight.shape[0]] if ctx.has_bias else None,
            list(stride), list(padding), list(dilation), False, [0, 0, 0], groups,
            [need_x or need_p, need_w, need_b and ctx.has_bias])
        grad_p = ctx.mix.param_grad(x, grad_mixed, param) if need_p else None
        grad_x = ctx.mix.adjoint_(grad_mixed, param) if need_x else None
        if grad_w is not None:
            grad_w = grad_w.squeeze(2)
        return grad_x, grad_w, grad_b if need_b else None, grad_p, None, None


def premix_slice_conv(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                      param: Optional[torch.Tensor], mix: SliceMix, stride: Sequence[int], padding: Sequence[int],
                      dilation: Sequence[int], groups: int) -> torch.Tensor:
    """``conv3d(M(x), weight[:, :, None], bias)`` as one autograd node (see the module docstring).

    Args:
        x (Tensor): ``(N, C_in, D, H, W)``.
        weight (Tensor): the 2D kernel ``(C_out, C_in / groups, kh, kw)``.
        param (Tensor, optional): the mix's parameter (A3D's ``P``, learned; AlignShift's ``r``, fixed).
        mix (SliceMix): the linear slice mix ``M``.
        stride, padding, dilation: 3-tuples ``(d, h, w)``.

    Returns:
        Tensor: ``(N, C_out, D', H', W')``.
    """
    return _PremixConvFunction.apply(x, weight, bias, param, mix, (tuple(stride), tuple(padding), tuple(dilation),
                                                                  groups))


def use_premix(x: torch.Tensor) -> bool:
    """Whether the one-node path applies: gradients recorded and no autocast (whose casts the node would skip)."""
    return (torch.is_grad_enabled() and not torch.is_autocast_enabled('cpu')
            and not torch.is_autocast_enabled(x.device.type))
