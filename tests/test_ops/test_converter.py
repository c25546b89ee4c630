import pytest
import torch
import torch.nn as nn

from mmdet3dctx.ops import (A3DConv, ACSConv, I3DConv, InPlaneUpsample, NoFusionConv, call_with_input_slice_interval,
                            convert_2d_to_3d)


def small_net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Sequential(nn.Conv2d(8, 12, 3, padding=1), nn.GroupNorm(4, 12), nn.ReLU(), nn.Dropout2d(0.0)),
        nn.AvgPool2d(2), nn.Upsample(scale_factor=2, mode='nearest'),
        nn.Conv2d(12, 6, 1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(6, 2))


def per_slice(net2d, x):
    """Apply a 2D network to each slice; stack what comes out."""
    outs = [net2d(x[:, :, d]) for d in range(x.shape[2])]
    return torch.stack(outs, 2)


def randomise_bn(net):
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 2)


def test_no_fusion_conversion_equals_2d_per_slice():
    net2d = small_net()[:9].eval()  # up to the adaptive pool: output (N, 6, 1, 1) per slice
    randomise_bn(net2d)
    net3d = convert_2d_to_3d(net2d, dict(type='NoFusionConv')).eval()
    x = torch.randn(2, 3, 5, 32, 32)
    y3d = net3d(x)
    assert y3d.shape == (2, 6, 5, 1, 1)
    torch.testing.assert_close(y3d, per_slice(net2d, x), rtol=1e-4, atol=1e-5)
    assert isinstance(net3d[0], NoFusionConv) and isinstance(net3d[1], nn.BatchNorm3d)
    assert isinstance(net3d[3], nn.MaxPool3d) and net3d[3].kernel_size == (1, 3, 3)
    assert isinstance(net3d[6], InPlaneUpsample)
    # the original is untouched
    assert isinstance(net2d[0], nn.Conv2d)


def test_bn_training_statistics_per_slice():
    """BatchNorm3d in training pools statistics over D as well; the converted model keeps BN state."""
    bn2d = nn.BatchNorm2d(4)
    randomise_bn(nn.Sequential(bn2d))
    bn3d = convert_2d_to_3d(nn.Sequential(bn2d))[0]
    for key in ('running_mean', 'running_var', 'weight', 'bias', 'num_batches_tracked'):
        assert torch.equal(getattr(bn3d, key), getattr(bn2d, key))


@pytest.mark.parametrize('cfg,cls', [
    (dict(type='A3DConv', num_slices=5), A3DConv),
    (dict(type='ACSConv'), ACSConv),
    (dict(type='I3DConv', inflate='center'), I3DConv),
    (dict(type='P3DConv'), None),
    (dict(type='TSMConv'), None),
    (dict(type='AlignShiftConv'), None),
])
def test_every_operator_converts_and_keeps_depth(cfg, cls):
    net3d = convert_2d_to_3d(small_net(), cfg)
    x = torch.randn(2, 3, 5, 32, 32)
    y = call_with_input_slice_interval(net3d[:9], x, input_slice_interval=torch.tensor([1.0, 5.0]))
    assert y.shape == (2, 6, 5, 1, 1)
    if cls is not None:
        assert isinstance(net3d[0], cls)
    assert net3d[0].weight.shape[:2] == (8, 3)


def test_center_i3d_conversion_equals_per_slice():
    net2d = small_net()[:5].eval()
    randomise_bn(net2d)
    net3d = convert_2d_to_3d(net2d, dict(type='I3DConv', inflate='center')).eval()
    x = torch.randn(1, 3, 5, 16, 16)
    torch.testing.assert_close(net3d(x), per_slice(net2d, x), rtol=1e-4, atol=1e-5)


def test_acs_strides_keep_depth():
    net3d = convert_2d_to_3d(nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1)), 'ACSConv')
    assert net3d[0].stride == (1, 2, 2) and net3d[0].padding == (1, 1, 1)
    assert net3d(torch.randn(1, 3, 5, 16, 16)).shape == (1, 6, 5, 8, 8)


def test_keep_depth_false_pools_over_slices():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
    net3d = convert_2d_to_3d(net, 'ACSConv', keep_depth=False)
    assert net3d(torch.randn(1, 1, 8, 16, 16)).shape == (1, 4, 1, 1, 1)
    assert net3d[1].kernel_size == (2, 2, 2)


def test_unconvertible_layer_named():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sequential(nn.ConvTranspose2d(4, 4, 2)))
    with pytest.raises(TypeError, match=r"'1.0' of type ConvTranspose2d"):
        convert_2d_to_3d(net)


def test_skip_leaves_layer_untouched():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ConvTranspose2d(4, 4, 2))
    net3d = convert_2d_to_3d(net, skip=['1'])
    assert isinstance(net3d[1], nn.ConvTranspose2d) and isinstance(net3d[0], NoFusionConv)


def test_custom_leaf_with_parameters_rejected():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.s

    with pytest.raises(TypeError, match="'0' of type Scale"):
        convert_2d_to_3d(nn.Sequential(Scale()))
    assert isinstance(convert_2d_to_3d(nn.Sequential(Scale()), skip=[Scale])[0], Scale)


def test_group_norm_statistics_per_slice_or_volume():
    gn = nn.GroupNorm(2, 4)
    gn.weight.data.uniform_(0.5, 2)
    x = torch.randn(2, 4, 3, 5, 5) * torch.tensor([1.0, 5.0, 20.0]).view(1, 1, 3, 1, 1)
    per_slice_gn = convert_2d_to_3d(nn.Sequential(gn))[0]
    torch.testing.assert_close(per_slice_gn(x), per_slice(gn, x), rtol=1e-5, atol=1e-5)
    volume_gn = convert_2d_to_3d(nn.Sequential(gn), keep_depth=False)[0]
    assert type(volume_gn) is nn.GroupNorm
    assert not torch.allclose(volume_gn(x), per_slice(gn, x), atol=1e-3)
