import pytest
import torch
import torch.nn.functional as F

from mmdet3dctx.ops import ACSConv, SoftACSConv, default_acs_split

acs_ref = pytest.importorskip('acsconv.operators', reason='reference package acsconv==0.1.1 (tests only)')


@pytest.mark.parametrize('out_channels,split', [(9, (3, 3, 3)), (10, (4, 3, 3)), (11, (4, 4, 3)), (1, (1, 0, 0))])
def test_default_split(out_channels, split):
    assert default_acs_split(out_channels) == split
    assert ACSConv(3, out_channels, 3).acs_split == split


@pytest.mark.parametrize('kwargs,shape', [
    (dict(kernel_size=3, padding=1), (2, 6, 5, 12, 10)),
    (dict(kernel_size=3, padding=1, stride=2), (2, 6, 6, 12, 10)),
    (dict(kernel_size=3, padding=0), (2, 6, 5, 12, 10)),
    (dict(kernel_size=3, padding=(1, 0, 2), stride=(1, 2, 1)), (1, 6, 7, 11, 9)),
    (dict(kernel_size=5, padding=4, dilation=2), (1, 6, 9, 16, 16)),
    (dict(kernel_size=1), (2, 6, 3, 8, 8)),
    (dict(kernel_size=3, padding=2, stride=2), (1, 6, 5, 9, 9)),
])
@pytest.mark.parametrize('out_channels', [7, 9])
def test_matches_reference_package(kwargs, shape, out_channels):
    ref = acs_ref.ACSConv(6, out_channels, **kwargs)
    ours = ACSConv(6, out_channels, **kwargs)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(shape)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_matches_reference_depthwise():
    ref = acs_ref.ACSConv(9, 9, 3, padding=1, groups=9)
    ours = ACSConv(9, 9, 3, padding=1, groups=9)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 9, 4, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('mean', [False, True])
def test_soft_and_mean_match_reference(mean):
    ref = acs_ref.SoftACSConv(4, 6, 3, padding=1, mean=mean)
    ours = SoftACSConv(4, 6, 3, padding=1, mean=mean)
    sd = {k: v for k, v in ref.state_dict().items() if k != 'soft_w_core'}
    if not mean:
        sd['view_logits'] = ref.soft_w_core.detach()
    ours.load_state_dict(sd)
    x = torch.randn(2, 4, 5, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_soft_starts_as_mean():
    soft, mean = SoftACSConv(4, 6, 3, padding=1), SoftACSConv(4, 6, 3, padding=1, mean=True)
    mean.load_state_dict(soft.state_dict(), strict=False)
    x = torch.randn(1, 4, 5, 8, 8)
    torch.testing.assert_close(soft(x), mean(x))


def test_views_are_kernels_on_their_axes():
    """Each output group equals a full Conv3d with the 2D kernel placed on its view's plane."""
    op = ACSConv(3, 6, 3, padding=1)
    x = torch.randn(1, 3, 5, 7, 6)
    y = op(x)
    w = op.weight
    a, c, s = op.acs_split
    k3 = torch.zeros(6, 3, 3, 3, 3)
    k3[:a, :, 1] = w[:a]  # axial: kernel over (H, W) at the centre slice
    k3[a:a + c, :, :, 1] = w[a:a + c]  # coronal: over (D, W)
    k3[a + c:, :, :, :, 1] = w[a + c:]  # sagittal: over (D, H)
    ref = F.conv3d(x, k3, op.bias, 1, 1)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)


def test_int_args_act_on_all_axes_like_conv3d():
    op = ACSConv(2, 3, 3, stride=2, padding=1)
    assert op.stride == (2, 2, 2) and op.padding == (1, 1, 1) and op.kernel_size == (3, 3, 3)
    ref = torch.nn.Conv3d(2, 3, 3, stride=2, padding=1)
    x = torch.randn(1, 2, 7, 9, 8)
    assert op(x).shape == ref(x).shape


def test_non_square_kernel_rejected():
    with pytest.raises(ValueError, match='square'):
        ACSConv(2, 3, (3, 1))


def _plain_acs(x, op):
    """ACS written with differentiable ops only (concatenated views), the gradient reference."""
    from mmdet3dctx.ops.acs import _view_plan, view_conv3d
    outs = [view_conv3d(x[:, i0:i1], op.weight[o0:o1], None if op.bias is None else op.bias[o0:o1], axis,
                        op.stride, op.padding, op.dilation, g)
            for axis, o0, o1, i0, i1, g in _view_plan(x.shape[1], op.weight, op.groups, op.acs_split)]
    return torch.cat(outs, 1)


@pytest.mark.parametrize('kwargs,shape', [
    (dict(in_channels=3, out_channels=5, kernel_size=3, padding=1), (2, 3, 4, 6, 5)),
    (dict(in_channels=3, out_channels=5, kernel_size=3, padding=0, stride=2), (3, 3, 5, 7, 6)),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding=(2, 0, 1), stride=(1, 2, 1)), (1, 3, 4, 6, 6)),
    (dict(in_channels=6, out_channels=6, kernel_size=3, padding=1, groups=6), (2, 6, 3, 5, 5)),
    (dict(in_channels=4, out_channels=6, kernel_size=3, padding=1, groups=2, acs_split=(3, 3, 0)), (2, 4, 3, 5, 5)),
])
def test_memory_lean_backward_equals_autograd(kwargs, shape):
    op = ACSConv(**kwargs).double()
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    g = torch.randn_like(op(x))
    gx, gw, gb = torch.autograd.grad(op(x), (x, op.weight, op.bias), g)
    rx, rw, rb = torch.autograd.grad(_plain_acs(x, op), (x, op.weight, op.bias), g)
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gw, rw)
    torch.testing.assert_close(gb, rb)


def test_memory_lean_backward_gradcheck():
    op = ACSConv(2, 3, 3, padding=(0, 1, 1), stride=(1, 2, 1)).double()
    x = torch.randn(2, 2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(op, (x, ))


def test_weight_only_gradient_and_no_grad_forward():
    op = ACSConv(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 4, 6, 6)
    op(x).sum().backward()
    assert op.weight.grad is not None and op.weight.grad.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(op(x), _plain_acs(x, op))
