import pytest
import torch

from mmdet3dctx.ops import AlignShiftConv, NoFusionConv, TSMConv, slice_shift


def test_slice_shift_hand_computed():
    # 8 channels, fold 1: channel 0 takes d+1, channel 1 takes d-1, rest kept
    x = torch.arange(8 * 3, dtype=torch.float32).view(1, 8, 3, 1, 1)
    y = slice_shift(x, 1)[0, :, :, 0, 0]
    assert y[0].tolist() == [1.0, 2.0, 0.0]
    assert y[1].tolist() == [0.0, 3.0, 4.0]
    assert torch.equal(y[2:], x[0, 2:, :, 0, 0])


def test_tsm_is_shift_then_per_slice_conv():
    tsm = TSMConv(16, 8, 3, padding=1, shift_div=8)
    nf = NoFusionConv(16, 8, 3, padding=1)
    nf.load_state_dict(tsm.state_dict())
    x = torch.randn(2, 16, 5, 6, 6)
    torch.testing.assert_close(tsm(x), nf(slice_shift(x, 2)))


def test_alignshift_full_ratio_equals_tsm():
    tsm = TSMConv(16, 8, 3, padding=1)
    al = AlignShiftConv(16, 8, 3, padding=1, ref_slice_interval=2.0)
    al.load_state_dict(tsm.state_dict())
    x = torch.randn(3, 16, 5, 6, 6)
    # interval <= ref -> r = 1 -> exactly TSM
    assert torch.equal(al(x, torch.tensor([2.0, 1.0, 0.6])), tsm(x))


def test_alignshift_formula_per_sample():
    x = torch.arange(8 * 3, dtype=torch.float32).view(1, 8, 3, 1, 1).repeat(2, 1, 1, 1, 1)
    r = torch.tensor([0.25, 0.0])
    y = slice_shift(x, 1, r)[:, :, :, 0, 0]
    # sample 0: channel 0 = 0.75 x[d] + 0.25 x[d+1] (0 past the end)
    assert y[0, 0].tolist() == [0.75 * 0 + 0.25 * 1, 0.75 * 1 + 0.25 * 2, 0.75 * 2 + 0.25 * 0]
    assert y[0, 1].tolist() == [0.75 * 3 + 0.25 * 0, 0.75 * 4 + 0.25 * 3, 0.75 * 5 + 0.25 * 4]
    assert torch.equal(y[1], x[1, :, :, 0, 0])  # r = 0: identity


def test_alignshift_ratio_from_input_slice_interval():
    al = AlignShiftConv(8, 8, 1, ref_slice_interval=2.0)
    r = al.shift_ratio(torch.tensor([0.5, 1.0, 2.0, 5.0]))
    # r = clamp(2 / t, 0, 1)
    assert r.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.4])


def test_alignshift_larger_intervals_shift_less():
    al = AlignShiftConv(8, 8, 1, bias=False, ref_slice_interval=2.0)
    x = torch.randn(1, 8, 3, 2, 2)
    y_far = al(x, torch.tensor([4.0]))  # r = 0.5
    ref = al.slice_conv(slice_shift(x, 1, torch.tensor([0.5])))
    torch.testing.assert_close(y_far, ref)


def test_alignshift_missing_or_bad_input_slice_interval():
    al = AlignShiftConv(8, 8, 1)
    x = torch.randn(2, 8, 3, 4, 4)
    with pytest.raises(ValueError, match='needs `input_slice_interval`'):
        al(x)
    with pytest.raises(ValueError, match='positive'):
        al(x, torch.tensor([float('nan'), 1.0]))
    with pytest.raises(ValueError, match='3 slice intervals for a batch of 2'):
        al(x, torch.tensor([1.0, 2.0, 3.0]))


@pytest.mark.parametrize('ratio', [None, torch.tensor([0.3, 1.0])])
def test_shift_backward_is_adjoint_and_gradcheck(ratio):
    x = torch.randn(2, 8, 4, 3, 3, dtype=torch.float64, requires_grad=True)

    def f(a):
        return slice_shift(a, 2) if ratio is None else slice_shift(a, 2, ratio.double())

    assert torch.autograd.gradcheck(f, (x, ))
    assert torch.autograd.gradgradcheck(f, (x, ))


def test_shift_single_slice_and_reference_loop():
    x = torch.randn(1, 8, 1, 2, 2)
    y = slice_shift(x, 2)
    assert y[:, :4].abs().sum() == 0 and torch.equal(y[:, 4:], x[:, 4:])
    x = torch.randn(2, 16, 5, 3, 3)
    r = torch.tensor([0.25, 0.75])
    ref = x.clone()
    for n in range(2):
        for d in range(5):
            nxt = x[n, :2, d + 1] if d + 1 < 5 else torch.zeros_like(x[n, :2, d])
            prv = x[n, 2:4, d - 1] if d > 0 else torch.zeros_like(x[n, 2:4, d])
            ref[n, :2, d] = (1 - r[n]) * x[n, :2, d] + r[n] * nxt
            ref[n, 2:4, d] = (1 - r[n]) * x[n, 2:4, d] + r[n] * prv
    torch.testing.assert_close(slice_shift(x, 2, r), ref)
