import pytest
import torch
import torch.nn.functional as F

from mmdet3dctx.ops import A3DConv, NoFusionConv, a3d_fuse


def test_fuse_equals_einsum_definition():
    x = torch.randn(2, 5, 7, 6, 4)
    p = torch.randn(7, 7, 5)
    ref = torch.einsum('ncdhw,dkc->nckhw', x, p)
    torch.testing.assert_close(a3d_fuse(x, p), ref, rtol=1e-5, atol=1e-5)


def test_fuse_hand_computed():
    # one channel, two slices: out[k] = sum_d P[d, k] x[d]
    x = torch.tensor([1.0, 10.0]).view(1, 1, 2, 1, 1)
    p = torch.tensor([[2.0, 3.0], [5.0, 7.0]]).view(2, 2, 1)
    out = a3d_fuse(x, p).flatten().tolist()
    assert out == [2 * 1 + 5 * 10, 3 * 1 + 7 * 10]


def test_forward_is_fusion_then_per_slice_conv():
    op = A3DConv(4, 6, 3, padding=1, num_slices=5)
    x = torch.randn(2, 4, 5, 9, 9)
    fused = torch.einsum('ncdhw,dkc->nckhw', x, op.fusion_weight)
    ref = F.conv3d(fused, op.weight.unsqueeze(2), op.bias, 1, (0, 1, 1))
    torch.testing.assert_close(op(x), ref, rtol=1e-4, atol=1e-5)


def test_init_identity_plus_bounded_noise():
    op = A3DConv(16, 8, 1, num_slices=7, init_noise=0.1)
    assert op.fusion_weight.shape == (7, 7, 16)
    dev = op.fusion_weight - torch.eye(7).unsqueeze(-1)
    assert dev.abs().max() <= 0.1
    assert dev.abs().max() > 0.05  # noise is really there
    assert float(dev.std()) == pytest.approx(0.2 / 12**0.5, rel=0.15)  # U(-0.1, 0.1)


def test_identity_fusion_equals_no_fusion():
    op = A3DConv(4, 6, 3, padding=1, num_slices=3, init_noise=0.0)
    ref = NoFusionConv(4, 6, 3, padding=1)
    ref.load_state_dict(op.state_dict(), strict=False)
    x = torch.randn(2, 4, 3, 8, 8)
    torch.testing.assert_close(op(x), ref(x))


def test_not_translation_equivariant_over_slices():
    op = A3DConv(1, 1, 1, bias=False, num_slices=3, init_noise=0.5)
    x = torch.zeros(1, 1, 3, 1, 1)
    x[0, 0, 0] = 1
    y0 = op(x)
    x2 = torch.roll(x, 1, dims=2)
    y1 = op(x2)
    assert not torch.allclose(torch.roll(y0, 1, dims=2), y1)


def test_wrong_num_slices_raises():
    op = A3DConv(4, 4, 3, padding=1, num_slices=7)
    with pytest.raises(ValueError, match='num_slices=7.*5 slices'):
        op(torch.randn(1, 4, 5, 8, 8))


def test_depth_stride_rejected():
    with pytest.raises(ValueError, match='keeps D'):
        A3DConv(4, 4, 3, stride=(2, 1, 1), num_slices=3)


def test_gradients_reach_fusion_weight():
    op = A3DConv(4, 4, 3, padding=1, num_slices=3)
    op(torch.randn(2, 4, 3, 8, 8)).square().sum().backward()
    assert op.fusion_weight.grad is not None and op.fusion_weight.grad.abs().sum() > 0
    assert op.weight.grad.abs().sum() > 0
