import torch
import torch.nn.functional as F

from mmdet.registry import MODELS


def test_top_down_fusion_values():
    torch.manual_seed(0)
    m = MODELS.build(dict(type='TopDownFusion', in_channels=[4, 8, 16], out_channels=6))
    m.init_weights()
    x = [torch.randn(1, 4, 16, 16), torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4)]
    outs = m(x)
    assert isinstance(outs, tuple) and len(outs) == 1 and outs[0].shape == (1, 6, 16, 16)

    def lat(i):
        conv = m.lateral_convs[i].conv
        return F.conv2d(x[i], conv.weight, conv.bias)

    p3 = lat(2)
    p2 = lat(1) + F.interpolate(p3, scale_factor=2, mode='nearest')
    p1 = lat(0) + F.interpolate(p2, scale_factor=2, mode='nearest')
    torch.testing.assert_close(outs[0], p1, rtol=1e-5, atol=1e-5)


def test_top_down_fusion_odd_sizes():
    m = MODELS.build(dict(type='TopDownFusion', in_channels=[4, 8], out_channels=6))
    outs = m([torch.randn(1, 4, 15, 13), torch.randn(1, 8, 8, 7)])
    assert outs[0].shape == (1, 6, 15, 13)
