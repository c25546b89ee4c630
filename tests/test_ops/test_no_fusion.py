import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet3dctx.ops import NoFusionConv


def test_equals_conv2d_per_slice():
    conv2d = nn.Conv2d(6, 10, 3, stride=2, padding=1, dilation=1, bias=True)
    op = NoFusionConv(6, 10, 3, stride=2, padding=1)
    op.load_state_dict(conv2d.state_dict())
    x = torch.randn(2, 6, 5, 17, 19)
    y = op(x)
    for d in range(5):
        torch.testing.assert_close(y[:, :, d], conv2d(x[:, :, d]), rtol=1e-5, atol=1e-5)


def test_grouped_dilated_matches_formula():
    op = NoFusionConv(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
    x = torch.randn(1, 8, 3, 12, 12)
    ref = torch.stack([F.conv2d(x[:, :, d], op.weight, None, 1, 2, 2, 4) for d in range(3)], 2)
    torch.testing.assert_close(op(x), ref, rtol=1e-5, atol=1e-5)


def test_attributes_for_convmodule():
    op = NoFusionConv(4, 8, 3, stride=2, padding=1)
    assert op.kernel_size == (1, 3, 3)
    assert op.stride == (1, 2, 2) and op.padding == (0, 1, 1) and op.dilation == (1, 1, 1)
    assert op.transposed is False and op.output_padding == (0, 0, 0)
    assert tuple(op.weight.shape) == (8, 4, 3, 3)
