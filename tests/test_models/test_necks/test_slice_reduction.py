import pytest
import torch

from mmdet.registry import MODELS
from mmdet3dctx.models import SliceReduction


def _levels(d=5):
    return (torch.randn(2, 4, d, 8, 8), torch.randn(2, 6, d, 4, 4))


def test_center_is_the_centre_slice():
    x = _levels()
    outs = SliceReduction([4, 6], num_slices=5, mode='center')(x)
    for o, xi in zip(outs, x):
        assert torch.equal(o, xi[:, :, 2])


def test_mean():
    x = _levels()
    outs = SliceReduction([4, 6], num_slices=5, mode='mean')(x)
    torch.testing.assert_close(outs[0], x[0].mean(2))


def test_gtm_formula():
    x = _levels()
    m = SliceReduction([4, 6], num_slices=5, mode='gtm')
    outs = m(x)
    for i, (o, xi) in enumerate(zip(outs, x)):
        w = m.reducers[i].weight  # (C, D, 1, 1): y[c] = sum_d w[c, d] x[c, d]
        assert w.shape == (xi.shape[1], 5, 1, 1) and m.reducers[i].bias is None
        ref = torch.einsum('ncdhw,cd->nchw', xi, w[:, :, 0, 0])
        torch.testing.assert_close(o, ref, rtol=1e-5, atol=1e-5)


def test_conv_is_a_d_by_1_by_1_conv3d():
    x = _levels(3)
    m = SliceReduction([4, 6], num_slices=3, mode='conv')
    outs = m(x)
    w = m.reducers[0].weight
    assert w.shape == (4, 4, 3, 1, 1) and m.reducers[0].bias is None
    ref = torch.einsum('nidhw,oid->nohw', x[0], w[:, :, :, 0, 0])
    torch.testing.assert_close(outs[0], ref, rtol=1e-5, atol=1e-5)
    assert outs[1].shape == (2, 6, 4, 4)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='mode'):
        SliceReduction([4], num_slices=3, mode='max')
    m = MODELS.build(dict(type='SliceReduction', in_channels=4, num_slices=3))
    with pytest.raises(ValueError, match='3 slices'):
        m((torch.randn(1, 4, 5, 8, 8), ))
    with pytest.raises(ValueError, match='levels'):
        m(_levels(3))
