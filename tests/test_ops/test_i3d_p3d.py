import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet3dctx.ops import I3DConv, NoFusionConv, P3DConv


def test_i3d_center_inflation_equals_no_fusion():
    conv2d = nn.Conv2d(4, 6, 3, padding=1)
    i3d = I3DConv(4, 6, 3, padding=1, inflate='center')
    i3d.load_state_dict(conv2d.state_dict())  # 4-D weight inflated on load
    nf = NoFusionConv(4, 6, 3, padding=1)
    nf.load_state_dict(conv2d.state_dict())
    x = torch.randn(2, 4, 5, 8, 8)
    torch.testing.assert_close(i3d(x), nf(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(i3d.weight[:, :, 0], torch.zeros_like(i3d.weight[:, :, 0]))


def test_i3d_average_inflation_on_constant_depth():
    conv2d = nn.Conv2d(3, 5, 3, padding=1)
    i3d = I3DConv(3, 5, 3, padding=(0, 1, 1), inflate='average')
    i3d.load_state_dict(conv2d.state_dict())
    torch.testing.assert_close(i3d.weight.sum(2), conv2d.weight, rtol=1e-6, atol=1e-6)
    img = torch.randn(2, 3, 8, 8)
    vol = img.unsqueeze(2).expand(-1, -1, 3, -1, -1)  # three equal slices, valid depth conv -> 1 slice
    torch.testing.assert_close(i3d(vol)[:, :, 0], conv2d(img), rtol=1e-5, atol=1e-5)


def test_i3d_is_conv3d_and_depth_kernel():
    op = I3DConv(2, 4, 3, depth_kernel=5, padding=(2, 1, 1))
    assert op.weight.shape == (4, 2, 5, 3, 3) and op.kernel_size == (5, 3, 3)
    x = torch.randn(1, 2, 6, 7, 7)
    torch.testing.assert_close(op(x), F.conv3d(x, op.weight, op.bias, 1, (2, 1, 1)))
    with pytest.raises(ValueError, match='inflate'):
        I3DConv(2, 4, 3, inflate='nearest')


def test_i3d_state_dict_round_trip():
    a = I3DConv(2, 4, 3, padding=1)
    b = I3DConv(2, 4, 3, padding=1)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.weight, b.weight)


def test_p3d_starts_as_no_fusion_and_learns_depth():
    p3d = P3DConv(4, 6, 3, padding=1)
    nf = NoFusionConv(4, 6, 3, padding=1)
    nf.load_state_dict(p3d.state_dict(), strict=False)
    x = torch.randn(2, 4, 5, 8, 8)
    torch.testing.assert_close(p3d(x), nf(x), rtol=1e-5, atol=1e-5)
    p3d(x).square().sum().backward()
    assert p3d.depth_weight.grad.abs().sum() > 0


def test_p3d_formula():
    p3d = P3DConv(2, 3, 3, padding=1, depth_kernel=3)
    with torch.no_grad():
        p3d.depth_weight.normal_()
    x = torch.randn(1, 2, 4, 6, 6)
    y2d = F.conv3d(x, p3d.weight.unsqueeze(2), p3d.bias, 1, (0, 1, 1))
    ref = F.conv3d(y2d, p3d.depth_weight, None, 1, (1, 0, 0))
    torch.testing.assert_close(p3d(x), ref, rtol=1e-5, atol=1e-5)
    n_extra = p3d.depth_weight.numel()
    assert n_extra == 3 * 3 * 3  # C_out * C_out * kd
