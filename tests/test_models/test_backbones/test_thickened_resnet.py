import pytest
import torch

from mmdet.models.backbones import ResNet
from mmdet3dctx.models.backbones import ThickenedResNet
from mmdet3dctx.models.layers import SliceSensitiveAttention


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


def test_ssa_key_from_an_earlier_stage():
    ssa = SliceSensitiveAttention(16, pool_size=4, key_channels=8)
    assert ssa.theta.in_channels == 8 and ssa.theta.out_channels == 16
    fused = torch.randn(2, 16, 5, 6)
    with torch.no_grad():
        ssa.w_z.weight.normal_()
        out = ssa(torch.randn(2, 8, 20, 24), fused)
    assert out.shape == fused.shape and not torch.allclose(out, fused)


def test_esm_ssa_links_the_pre_fusion_key_group_to_the_later_stages():
    """Thickened 2D networks: attention from the key group's first-stage map before fusion to the outputs of
    the later stages, not at the fusion point."""
    torch.manual_seed(0)
    m = ThickenedResNet(depth=18, num_slices=9, fusion='esm', ssa=True, out_indices=(0, 1, 2, 3))
    m.eval()  # mmdet's ResNet.train() returns None
    assert set(m.ssa.keys()) == {'1', '2', '3'}
    assert [m.ssa[k].theta.in_channels for k in '123'] == [64, 64, 64]
    assert [m.ssa[k].g.in_channels for k in '123'] == [128, 256, 512]
    plain_esm = ThickenedResNet(depth=18, num_slices=9, fusion='esm', out_indices=(0, 1, 2, 3))
    plain_esm.eval()
    plain_esm.load_state_dict(m.state_dict(), strict=False)
    x = torch.randn(2, 1, 9, 64, 64)
    with torch.no_grad():
        for a, b in zip(m(x), plain_esm(x)):  # W_z starts at zero: the same network at first
            torch.testing.assert_close(a, b)
        for ssa in m.ssa.values():
            ssa.w_z.weight.normal_(0, 0.05)
        outs, ref = m(x), plain_esm(x)
        torch.testing.assert_close(outs[0], ref[0])  # the fusion point's output: no attention
        for a, b in zip(outs[1:], ref[1:]):
            assert a.shape == b.shape and not torch.allclose(a, b)
        # attention on the outputs only: the next stage reads the plain map, so with W_z = 0 at stages 2 and 3
        # their outputs are the plain network's although stage 1's attention is active
        m.ssa['2'].w_z.weight.zero_()
        m.ssa['3'].w_z.weight.zero_()
        outs = m(x)
        assert not torch.allclose(outs[1], ref[1])
        torch.testing.assert_close(outs[2], ref[2])
        torch.testing.assert_close(outs[3], ref[3])


def test_norm_eval_needs_a_checkpoint():
    with pytest.raises(ValueError, match=r'model\.backbone\.norm_eval=True.*model\.backbone\.init_cfg'):
        ThickenedResNet(depth=18, num_slices=9, norm_eval=True)
    with pytest.raises(ValueError, match='norm_eval'):
        ThickenedResNet(depth=18, num_slices=9, norm_eval=True, init_cfg=dict(type='Pretrained2D'))
    m = ThickenedResNet(depth=18, num_slices=9, norm_eval=True,
                        init_cfg=dict(type='Pretrained2D', checkpoint='resnet18.pth'))
    m.train()
    assert m.norm_eval and not m.norm1.training  # frozen statistics with pretrained weights
    m = ThickenedResNet(depth=18, num_slices=9)  # default: BatchNorm trains
    m.train()
    assert not m.norm_eval and m.norm1.training


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
