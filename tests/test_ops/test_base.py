"""The slice-interval protocol beside the operator base class: the ``needs_input_slice_interval`` flag, the scoped
binding and the calling helper, on plain operators and on a model converted from 2D."""
import pytest
import torch
import torch.nn as nn

from mmdet3dctx.ops import (AlignShiftConv, NoFusionConv, TSMConv, bind_input_slice_interval,
                            bound_input_slice_interval, call_with_input_slice_interval, convert_2d_to_3d,
                            input_slice_interval_operators)

MISSING = 'AlignShiftConv needs `input_slice_interval`'


def _pair():
    torch.manual_seed(0)
    return nn.Sequential(AlignShiftConv(8, 8, 1), AlignShiftConv(8, 8, 1))


def test_flag_and_operator_list():
    assert AlignShiftConv.needs_input_slice_interval and not TSMConv.needs_input_slice_interval
    model = nn.Sequential(NoFusionConv(8, 8, 1), AlignShiftConv(8, 8, 1), nn.ReLU(), AlignShiftConv(8, 8, 1))
    assert input_slice_interval_operators(model) == [model[1], model[3]]
    assert input_slice_interval_operators(NoFusionConv(8, 8, 1)) == []


def test_bind_input_slice_interval_is_scoped():
    model = _pair()
    x = torch.randn(2, 8, 3, 4, 4)
    t = torch.tensor([1.0, 4.0])
    with bind_input_slice_interval(model, t):
        y = model(x)
    torch.testing.assert_close(y, model[1](model[0](x, t), t))
    with pytest.raises(ValueError, match='needs `input_slice_interval`'):
        model(x)


def test_bindings_nest_and_are_restored():
    model = _pair()
    x = torch.randn(2, 8, 3, 4, 4)
    outer, inner = torch.tensor([1.0, 4.0]), torch.tensor([8.0, 2.0])
    want_outer, want_inner = model[1](model[0](x, outer), outer), model[1](model[0](x, inner), inner)
    assert not torch.allclose(want_outer, want_inner)
    assert bound_input_slice_interval(model) is None
    with bind_input_slice_interval(model, outer):
        with bind_input_slice_interval(model[1], inner):  # a part of the model re-bound
            assert bound_input_slice_interval(model[0]) is outer and bound_input_slice_interval(model[1]) is inner
        with bind_input_slice_interval(model, inner):
            torch.testing.assert_close(model(x), want_inner)
        torch.testing.assert_close(model(x), want_outer)  # the outer value is back
        assert bound_input_slice_interval(model) is outer
    assert bound_input_slice_interval(model) is None


def test_binding_is_restored_after_an_exception():
    model = _pair()
    x = torch.randn(2, 8, 3, 4, 4)
    outer = torch.tensor([1.0, 4.0])
    with bind_input_slice_interval(model, outer):
        with pytest.raises(ValueError, match='3 slice intervals for a batch of 2'):
            with bind_input_slice_interval(model, torch.tensor([1.0, 2.0, 3.0])):
                model(x)
        assert all(bound_input_slice_interval(m) is outer for m in model)
    assert all(bound_input_slice_interval(m) is None for m in model)
    with pytest.raises(ValueError, match=MISSING):
        model(x)


def test_call_with_input_slice_interval():
    model = _pair()
    x = torch.randn(2, 8, 3, 4, 4)
    t = torch.tensor([1.0, 4.0])
    want = model[1](model[0](x, t), t)
    torch.testing.assert_close(call_with_input_slice_interval(model, x, input_slice_interval=t), want)
    assert bound_input_slice_interval(model) is None  # nothing left bound after the call
    with bind_input_slice_interval(model, t):  # None binds nothing: a binding around the call stays in force
        torch.testing.assert_close(call_with_input_slice_interval(model, x), want)
    plain = NoFusionConv(8, 8, 1)  # a module without such operators: a plain call, keyword arguments passed on
    torch.testing.assert_close(call_with_input_slice_interval(plain, x, input_slice_interval=t), plain(x))
    # one float for the whole batch
    torch.testing.assert_close(call_with_input_slice_interval(model, x, input_slice_interval=4.0),
                               model[1](model[0](x, torch.tensor([4.0, 4.0])), torch.tensor([4.0, 4.0])))


def test_missing_interval_names_the_operator_and_how_to_give_it():
    with pytest.raises(ValueError, match=MISSING) as e:
        _pair()(torch.randn(2, 8, 3, 4, 4))
    assert 'call_with_input_slice_interval' in str(e.value) and 'bind_input_slice_interval' in str(e.value)


def test_converted_model_gets_the_interval_by_binding():
    """A model converted from 2D, whose forward cannot pass an extra argument, gets the interval bound."""
    torch.manual_seed(0)
    net2d = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
    net3d = convert_2d_to_3d(net2d, dict(type='AlignShiftConv'))
    x = torch.randn(2, 8, 3, 6, 6)
    t = torch.tensor([1.0, 8.0])
    got = call_with_input_slice_interval(net3d, x, input_slice_interval=t)
    torch.testing.assert_close(got, net3d[2](net3d[1](net3d[0](x, t)), t))
    with pytest.raises(ValueError, match=MISSING):
        net3d(x)
