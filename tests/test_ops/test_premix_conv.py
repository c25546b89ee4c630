"""The one-node mix+conv path (premix_conv) equals the plain two-node path: outputs and every gradient."""
import pytest
import torch

from mmdet3dctx.apis.gpu_check import reference_slice_shift
from mmdet3dctx.ops import A3DConv, AlignShiftConv, TSMConv, call_with_input_slice_interval
from mmdet3dctx.ops.a3d import a3d_fuse
from mmdet3dctx.ops.premix_conv import A3DMix, ShiftMix, premix_slice_conv

CASES = [
    dict(in_channels=16, out_channels=8, kernel_size=3, padding=1),
    dict(in_channels=16, out_channels=12, kernel_size=3, padding=(0, 2, 1), stride=2, bias=False),
    dict(in_channels=16, out_channels=8, kernel_size=1, groups=4),
    dict(in_channels=24, out_channels=6, kernel_size=3, padding=2, dilation=2),
]


def _two_node(op, x, input_slice_interval=None):
    """The reference: the mix under plain autograd (einsum / slicing), then the per-slice conv."""
    if isinstance(op, A3DConv):
        mixed = torch.einsum('ncdhw,dkc->nckhw', x, op.fusion_weight)
    else:
        fold = op.fold
        ratio = None if input_slice_interval is None else op.shift_ratio(input_slice_interval).to(x.dtype)
        r = torch.ones(x.shape[0], dtype=x.dtype) if ratio is None else ratio
        r = r.view(-1, 1, 1, 1, 1)
        pad = torch.zeros_like(x[:, :, :1])
        up = torch.cat([x[:, :fold, 1:], pad[:, :fold]], 2)
        down = torch.cat([pad[:, fold:2 * fold], x[:, fold:2 * fold, :-1]], 2)
        mixed = torch.cat([(1 - r) * x[:, :fold] + r * up, (1 - r) * x[:, fold:2 * fold] + r * down,
                           x[:, 2 * fold:]], 1)
    return op.slice_conv(mixed)


def _grads(op, x, input_slice_interval, fn):
    op.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    out = fn(op, x, input_slice_interval)
    g = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * g).sum().backward()
    return out.detach(), x.grad, {k: p.grad.clone() for k, p in op.named_parameters()}


@pytest.mark.parametrize('kwargs', CASES)
@pytest.mark.parametrize('name', ['A3DConv', 'TSMConv', 'AlignShiftConv'])
def test_one_node_equals_two_node(name, kwargs):
    torch.manual_seed(0)
    cls = dict(A3DConv=A3DConv, TSMConv=TSMConv, AlignShiftConv=AlignShiftConv)[name]
    extra = dict(num_slices=5) if name == 'A3DConv' else {}
    op = cls(**kwargs, **extra).double()
    x = torch.randn(3, kwargs['in_channels'], 5, 9, 11, dtype=torch.float64)
    input_slice_interval = torch.tensor([1.0, 3.0, 5.0], dtype=torch.float64) if name == 'AlignShiftConv' else None
    got = _grads(op, x, input_slice_interval,
                 lambda m, a, t: call_with_input_slice_interval(m, a, input_slice_interval=t))
    want = _grads(op, x, input_slice_interval, _two_node)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    assert got[2].keys() == want[2].keys()
    for k in want[2]:
        torch.testing.assert_close(got[2][k], want[2][k], msg=k)


@pytest.mark.parametrize('mix,param', [
    (A3DMix(), 'a3d'),
    (ShiftMix(1), None),
    (ShiftMix(2), 'ratio'),
])
def test_gradcheck(mix, param):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    if param == 'a3d':
        p = torch.randn(3, 3, 4, dtype=torch.float64, requires_grad=True)
    elif param == 'ratio':
        p = torch.tensor([0.3, 1.0], dtype=torch.float64)
    else:
        p = None

    def fn(x, w, b, *rest):
        return premix_slice_conv(x, w, b, rest[0] if rest else p, mix, (1, 1, 1), (0, 1, 1), (1, 1, 1), 1)

    inputs = (x, w, b, p) if param == 'a3d' else (x, w, b)
    assert torch.autograd.gradcheck(fn, inputs)


def test_mixes_match_their_definitions():
    """ShiftMix / A3DMix forward equal the published formulations (slicing, einsum); their adjoints are adjoint:
    <Mx, g> = <x, Mᵀg>."""
    torch.manual_seed(0)
    x = torch.randn(2, 16, 6, 4, 5, dtype=torch.float64)
    g = torch.randn_like(x)
    ratio = torch.tensor([0.25, 0.8], dtype=torch.float64)
    p = torch.randn(6, 6, 16, dtype=torch.float64)
    for mix, param, ref in [(ShiftMix(2), None, reference_slice_shift(x, 2)),
                            (ShiftMix(4), ratio, reference_slice_shift(x, 4, ratio)),
                            (A3DMix(), p, a3d_fuse(x, p))]:
        mx = mix.apply(x, param)
        torch.testing.assert_close(mx, ref)
        assert x.equal(x)  # input untouched
        mtg = mix.adjoint_(g.clone(), param)
        torch.testing.assert_close((mx * g).sum(), (x * mtg).sum())


def test_a3d_adjoint_matches_einsum():
    torch.manual_seed(0)
    mix = A3DMix()
    p = torch.randn(5, 5, 16, dtype=torch.float64)
    g = torch.randn(2, 16, 5, 3, 3, dtype=torch.float64)
    want = torch.einsum('nckhw,dkc->ncdhw', g, p)
    torch.testing.assert_close(mix.adjoint_(g.clone(), p), want)


def test_autocast_and_no_grad_use_the_plain_path():
    """Under no_grad and CPU autocast the operators give the plain path's outputs."""
    torch.manual_seed(0)
    op = TSMConv(16, 8, 3, padding=1)
    x = torch.randn(2, 16, 5, 8, 8)
    with torch.no_grad():
        a = op(x)
    torch.testing.assert_close(a, _two_node(op, x).detach())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = op(x.requires_grad_(True))
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x.grad is not None and op.weight.grad is not None
