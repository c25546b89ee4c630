"""Behaviour every operator shares: registry-style building, state dicts, 2D checkpoints, gradients,
autocast, clear errors."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from mmdet3dctx.ops import CONTEXT_CONVS, build_context_conv, call_with_input_slice_interval

EXTRA = {'A3DConv': dict(num_slices=5)}


def run_op(op, x, input_slice_interval=None):
    """Call an operator with a slice interval bound (2 mm per sample unless given); those that do not need it
    ignore it."""
    t = torch.full((x.shape[0], ), 2.0) if input_slice_interval is None else input_slice_interval
    return call_with_input_slice_interval(op, x, input_slice_interval=t)


def make(name, *args, **kwargs):
    return build_context_conv(dict(type=name, **EXTRA.get(name, {})), *args, **kwargs)


@pytest.mark.parametrize('name', sorted(CONTEXT_CONVS))
def test_2d_checkpoint_loads_and_state_dict_round_trips(name):
    conv2d = nn.Conv2d(8, 12, 3, padding=1)
    op = make(name, 8, 12, 3, padding=1)
    missing, unexpected = op.load_state_dict(conv2d.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {'fusion_weight', 'depth_weight', 'view_logits'}
    w = op.weight if op.weight.dim() == 4 else op.weight.sum(2)  # I3D average inflation sums back
    torch.testing.assert_close(w, conv2d.weight)
    clone = make(name, 8, 12, 3, padding=1)
    clone.load_state_dict(op.state_dict())
    x = torch.randn(2, 8, 5, 6, 6)
    torch.testing.assert_close(run_op(clone, x), run_op(op, x))


@pytest.mark.parametrize('name', sorted(CONTEXT_CONVS))
def test_gradients_flow(name):
    op = make(name, 8, 12, 3, padding=1)
    x = torch.randn(2, 8, 5, 6, 6, requires_grad=True)
    run_op(op, x).square().mean().backward()
    assert x.grad.abs().sum() > 0
    for pname, p in op.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def _cpu_autocast_conv3d(dtype) -> bool:
    """Whether this torch has CPU kernels for a 3D convolution and its backward under autocast to ``dtype``."""
    conv = nn.Conv3d(2, 2, 3, padding=1)
    try:
        with torch.autocast('cpu', dtype=dtype):
            conv(torch.randn(1, 2, 3, 4, 4)).float().sum().backward()
    except RuntimeError as e:
        if 'not implemented' in str(e):
            return False
        raise
    return True


@pytest.mark.parametrize('dtype', [
    torch.bfloat16,
    pytest.param(torch.float16, marks=pytest.mark.skipif(not _cpu_autocast_conv3d(torch.float16),
                                                         reason='this torch has no fp16 conv3d on the CPU'))])
@pytest.mark.parametrize('name', sorted(CONTEXT_CONVS))
def test_cpu_autocast(name, dtype):
    op = make(name, 8, 12, 3, padding=1)
    x = torch.randn(2, 8, 5, 6, 6)
    ref = run_op(op, x)
    with torch.autocast('cpu', dtype=dtype):
        y = run_op(op, x)
        y.float().sum().backward()
    assert y.shape == ref.shape
    tol = 0.05 if dtype is torch.bfloat16 else 0.01
    assert (y.float() - ref).abs().max() <= tol * ref.abs().max()


@pytest.mark.parametrize('name', sorted(CONTEXT_CONVS))
def test_wrong_rank_and_channels(name):
    op = make(name, 8, 12, 3, padding=1)
    with pytest.raises(ValueError, match='5-D input'):
        run_op(op, torch.randn(2, 8, 6, 6))
    with pytest.raises(ValueError, match='8 input channels'):
        run_op(op, torch.randn(2, 4, 5, 6, 6))


def test_unknown_type():
    with pytest.raises(KeyError, match='unknown 3D-context operator'):
        build_context_conv(dict(type='Conv4d'), 1, 1, 1)


def test_ops_import_without_mmdet():
    code = ('import sys; sys.modules.update(mmdet=None, mmengine=None, mmcv=None)  # PyTorch alone\n'
            'import mmdet3dctx, mmdet3dctx.ops as o\n'
            'assert not mmdet3dctx.HAS_MMDET and "A3DConv" in o.CONTEXT_CONVS\n'
            'assert not any(m == "mmdet" or m.startswith("mmdet.") for m in sys.modules if sys.modules[m])')
    subprocess.run([sys.executable, '-c', code], check=True)
