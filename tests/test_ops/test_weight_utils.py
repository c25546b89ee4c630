import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet3dctx.ops import inflate_2d_weight, inflate_state_dict, rgb_to_grey


def test_inflate_average_and_center_values():
    w = torch.arange(4.0).view(1, 1, 2, 2)
    avg = inflate_2d_weight(w, 4, 'average')
    assert avg.shape == (1, 1, 4, 2, 2)
    assert torch.equal(avg[0, 0, 2], w[0, 0] / 4)
    cen = inflate_2d_weight(w, 3, 'center')
    assert torch.equal(cen[0, 0, 1], w[0, 0]) and cen[0, 0, 0].abs().sum() == 0 and cen[0, 0, 2].abs().sum() == 0
    with pytest.raises(ValueError, match='inflate mode'):
        inflate_2d_weight(w, 3, 'nearest')


def test_rgb_to_grey_sum_is_exact_for_grey_images():
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    grey = torch.randn(2, 1, 8, 8)
    ref = conv(grey.expand(-1, 3, -1, -1))
    out = F.conv2d(grey, rgb_to_grey(conv.weight, 'sum'), None, 1, 1)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rgb_to_grey(conv.weight, 'mean'), conv.weight.mean(1, keepdim=True))
    assert torch.equal(rgb_to_grey(conv.weight, 'green'), conv.weight[:, 1:2])
    with pytest.raises(ValueError, match='3 input channels'):
        rgb_to_grey(torch.zeros(2, 1, 3, 3))


def test_inflate_state_dict_report():
    src = {'stem.weight': torch.randn(4, 3, 3, 3), 'conv.weight': torch.randn(6, 4, 3, 3),
           'bn.running_mean': torch.randn(6), 'fc.weight': torch.randn(2, 6), 'extra': torch.zeros(1)}
    tgt = {'stem.weight': torch.zeros(4, 1, 1, 3, 3), 'conv.weight': torch.zeros(6, 4, 3, 3, 3),
           'bn.running_mean': torch.zeros(6), 'fc.weight': torch.zeros(3, 6), 'fusion_weight': torch.zeros(3, 3, 4)}
    out, rep = inflate_state_dict(src, tgt, inflate='center')
    torch.testing.assert_close(out['stem.weight'][:, :, 0], src['stem.weight'].sum(1, keepdim=True))
    assert torch.equal(out['conv.weight'][:, :, 1], src['conv.weight'])
    assert rep['copied'] == ['bn.running_mean'] and rep['rgb_reduced'] == ['stem.weight']
    assert rep['inflated'] == ['stem.weight', 'conv.weight']
    assert rep['shape_mismatch'] == ['fc.weight: (2, 6) -> (3, 6)']
    assert rep['missing'] == ['fusion_weight'] and rep['unexpected'] == ['extra']
