import pytest
import torch
import torch.nn.functional as F

from mmdet.registry import MODELS
from mmdet3dctx.models import MP3DResNet
from mmdet3dctx.models.backbones.mp3d_resnet import P3DBottleneck


def test_mp3d63_structure():
    m = MP3DResNet(depth=63)
    blocks = [b for name in m.res_layers for b in getattr(m, name)]
    assert len(blocks) == 16
    assert [b.p3d_type for b in blocks] == [('A', 'B', 'C')[i % 3] for i in range(16)]
    assert m.out_channels == [256, 512, 1024, 2048]
    b = blocks[0]
    assert b.conv_s.conv.kernel_size == (1, 3, 3) and b.conv_t.conv.kernel_size == (3, 1, 1)
    assert isinstance(b.conv_s.norm, torch.nn.GroupNorm) and b.conv_s.norm.num_groups == 32
    assert m.stem.conv.kernel_size == (1, 7, 7) and m.stem.conv.stride == (1, 2, 2)
    assert m.layer2[0].conv1.conv.stride == (1, 2, 2)
    n = sum(p.numel() for p in m.parameters())
    assert 20e6 < n < 40e6  # ~ResNet-50 (23.5 M) plus the 3x1x1 depth convs


def test_mp3d18_shapes_keep_depth():
    m = MODELS.build(dict(type='MP3DResNet', depth=18, base_channels=32))
    m.init_weights()
    outs = m(torch.rand(2, 1, 5, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 128, 5, 16, 16), (2, 256, 5, 8, 8), (2, 512, 5, 4, 4),
                                               (2, 1024, 5, 2, 2)]
    sum(o.mean() for o in outs).backward()


@pytest.mark.parametrize('kind', ['A', 'B', 'C'])
def test_p3d_units_formula(kind):
    torch.manual_seed(0)
    blk = P3DBottleneck(32, 32, kind, norm_cfg=dict(type='GN', num_groups=4)).eval()
    x = torch.randn(1, 32, 3, 8, 8)
    h = blk.conv1(x)

    def s(t):
        return blk.conv_s(t)

    def d(t):
        return blk.conv_t(t)

    unit = {'A': lambda t: d(s(t)), 'B': lambda t: s(t) + d(t), 'C': lambda t: s(t) + d(s(t))}[kind](h)
    ref = F.relu(blk.conv3(unit) + blk.downsample(x))
    torch.testing.assert_close(blk(x), ref)


def test_bad_depth():
    with pytest.raises(KeyError, match='depth'):
        MP3DResNet(depth=50)


def test_stem_does_not_pool_across_slices():
    """MP3D pools in-plane only: after stem and max-pool, slice d depends on input slice d alone (BatchNorm in
    eval mode here: GroupNorm's statistics span the slices by design)."""
    torch.manual_seed(0)
    m = MP3DResNet(depth=18, base_channels=32, norm_cfg=dict(type='BN3d')).eval()
    assert m.maxpool.kernel_size == (1, 3, 3) and m.maxpool.stride == (1, 2, 2) and m.maxpool.padding == (0, 1, 1)
    x = torch.rand(1, 1, 5, 32, 32)
    y = x.clone()
    y[:, :, 2] += 5.0  # change the middle slice only
    with torch.no_grad():
        a, b = m.maxpool(m.stem(x)), m.maxpool(m.stem(y))
        assert a.shape == (1, 32, 5, 8, 8)  # the depth is kept
        changed = [not torch.equal(a[:, :, d], b[:, :, d]) for d in range(5)]
        assert changed == [False, False, True, False, False]
        assert tuple(m(x)[0].shape) == (1, 128, 5, 8, 8)
    old = MP3DResNet(depth=18, base_channels=32, norm_cfg=dict(type='BN3d'), stem_pool_kernel=(3, 3, 3)).eval()
    old.load_state_dict(m.state_dict())
    with torch.no_grad():  # the former 3x3x3 pool spreads the change to the neighbouring slices
        a, b = old.maxpool(old.stem(x)), old.maxpool(old.stem(y))
        assert [not torch.equal(a[:, :, d], b[:, :, d]) for d in range(5)] == [False, True, True, True, False]
    with pytest.raises(ValueError, match='stem_pool_kernel'):
        MP3DResNet(depth=18, stem_pool_kernel=(2, 3, 3))


def test_mp3d_frozen_stages_and_norm_eval():
    """``frozen_stages=1`` freezes the stem and the first stage; ``norm_eval`` keeps every BatchNorm in eval mode
    through ``train()``, while the other stages train."""
    m = MP3DResNet(depth=18, base_channels=16, frozen_stages=1, norm_eval=True,
                   norm_cfg=dict(type='BN3d', requires_grad=True)).train()
    assert not any(p.requires_grad for p in m.stem.parameters())
    assert not any(p.requires_grad for p in m.layer1.parameters())
    assert all(p.requires_grad for p in m.layer2.parameters())
    assert not m.stem.training and not m.layer1.training and m.layer2.training
    bns = [b for b in m.modules() if isinstance(b, torch.nn.BatchNorm3d)]
    assert bns and not any(b.training for b in bns)
    assert all(b.training for b in MP3DResNet(depth=18, base_channels=16, frozen_stages=1,
                                              norm_cfg=dict(type='BN3d')).train().layer2.modules()
               if isinstance(b, torch.nn.BatchNorm3d))
