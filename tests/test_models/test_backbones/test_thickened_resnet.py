import pytest
import torch

from mmdet.models.backbones import ResNet
from mmdet3dctx.models.backbones import SliceSensitiveAttention, ThickenedResNet


def plain(depth=18):
    torch.manual_seed(0)
    m = ResNet(depth=depth)
    m.init_weights()
    m.eval()  # mmdet's ResNet.train() does not return the module
    return m


@pytest.mark.parametrize('fusion', ['3dce', 'esm'])
def test_one_group_equals_plain_network(fusion):
    ref = plain()
    m = ThickenedResNet(depth=18, num_slices=3, fusion=fusion)
    m.eval()
    m.load_state_dict(ref.state_dict())
    x = torch.randn(2, 1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(m(x), ref(x[:, 0])):
            torch.testing.assert_close(a, b)


def test_3dce_starts_as_the_key_group():
    ref = plain()
    m = ThickenedResNet(depth=18, num_slices=9, fusion='3dce')
    m.eval()
    m.load_state_dict(ref.state_dict(), strict=False)
    x = torch.randn(2, 1, 9, 64, 64)
    with torch.no_grad():
        for a, b in zip(m(x), ref(x[:, 0, 3:6])):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_esm_shapes_and_fusion_layers():
    m = ThickenedResNet(depth=18, num_slices=9, fusion='esm', out_indices=(0, 1, 2, 3))
    m.eval()
    assert m.esm_compress[0].conv.in_channels == 3 * 64 and m.esm_compress[0].conv.out_channels == 96
    assert m.esm_compress[1].conv.out_channels == 64
    outs = m(torch.randn(2, 1, 9, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2)]


def test_ssa_identity_at_start_shape_and_gradient():
    ssa = SliceSensitiveAttention(8, pool_size=4)
    key, fused = torch.randn(2, 8, 10, 12), torch.randn(2, 8, 10, 12, requires_grad=True)
    out = ssa(key, fused)
    assert out.shape == fused.shape and torch.equal(out, fused)  # W_z starts at zero: a highway
    out.square().sum().backward()
    assert ssa.w_z.weight.grad.abs().sum() > 0
    with torch.no_grad():
        ssa.w_z.weight.normal_()
    out = ssa(key, fused)
    # channel affinity: a per-channel constant key shifts attention, the output depends on the key
    assert not torch.allclose(out, ssa(key * 3, fused))


def test_ssa_in_backbone_gradients_and_errors():
    m = ThickenedResNet(depth=18, num_slices=6, fusion='3dce', ssa=True, out_indices=(1, 3))
    assert set(m.ssa.keys()) == {'1', '3'}
    outs = m(torch.randn(1, 1, 6, 64, 64))
    sum(o.sum() for o in outs).backward()
    assert m.ssa['1'].w_z.weight.grad is not None and m.fusion_convs['3'].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='multiple of 3'):
        ThickenedResNet(depth=18, num_slices=7)
    with pytest.raises(ValueError, match=r'expects \(N, 1, 6, H, W\)'):
        m(torch.randn(1, 1, 9, 64, 64))


def test_3dce_key_group_outputs_are_the_plain_network_on_the_key_slices():
    ref = plain()
    m = ThickenedResNet(depth=18, num_slices=9, fusion='3dce', ssa=True, out_indices=(0, 2, 3))
    m.eval()
    m.load_state_dict(ref.state_dict(), strict=False)
    with torch.no_grad():
        for conv in m.fusion_convs.values():
            conv.weight.normal_(0, 0.02)
        for ssa in m.ssa.values():
            ssa.w_z.weight.normal_(0, 0.02)
    x = torch.randn(2, 1, 9, 64, 64)
    with torch.no_grad():
        fused, key = m(x, return_key_group=True)
        alone = ref(x[:, 0, 3:6])
        plain_call = m(x)
    assert [k.shape for k in key] == [f.shape for f in fused] == [(2, 64, 16, 16), (2, 256, 4, 4), (2, 512, 2, 2)]
    for k, a in zip(key, (alone[0], alone[2], alone[3])):
        torch.testing.assert_close(k, a, rtol=1e-5, atol=1e-5)
    for f, p, k in zip(fused, plain_call, key):
        assert torch.equal(f, p) and not torch.allclose(f, k)  # the default call returns the fused maps only
    esm = ThickenedResNet(depth=18, num_slices=9, fusion='esm')
    assert m.with_key_group_outputs and not esm.with_key_group_outputs
    with pytest.raises(ValueError, match="return_key_group needs fusion='3dce'"):
        esm(x, return_key_group=True)
