import pytest
import torch

from mmdet.registry import MODELS


def test_context_neck_reduction_then_fpn():
    neck = MODELS.build(
        dict(type='ContextNeck', reduction=dict(type='SliceReduction', mode='gtm', num_slices=3),
             neck=dict(type='FPN', in_channels=[8, 16], out_channels=8, num_outs=3)))
    outs = neck((torch.randn(1, 8, 3, 16, 16), torch.randn(1, 16, 3, 8, 8)))
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 16), (1, 8, 8, 8), (1, 8, 4, 4)]
    assert neck.reduction.in_channels == [8, 16]


def test_context_neck_center_equals_neck_on_centre_slice():
    torch.manual_seed(0)
    neck = MODELS.build(
        dict(type='ContextNeck', reduction=dict(type='SliceReduction', mode='center', num_slices=5),
             neck=dict(type='TopDownFusion', in_channels=[8, 16], out_channels=8)))
    x = (torch.randn(1, 8, 5, 16, 16), torch.randn(1, 16, 5, 8, 8))
    torch.testing.assert_close(neck(x)[0], neck.neck([x[0][:, :, 2], x[1][:, :, 2]])[0])


def test_context_neck_needs_in_channels():
    with pytest.raises(KeyError, match='in_channels'):
        MODELS.build(dict(type='ContextNeck', reduction=dict(type='SliceReduction', num_slices=3)))
