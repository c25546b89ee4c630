"""Every operator on every available device (the CPU, plus CUDA when visible): forward and backward in float32 and
under autocast (bf16 on the CPU; fp16 and bf16 on CUDA) equal to float64 on the CPU within
``mmdet3dctx.apis.gpu_check.TOLERANCES``; on CUDA with no host sync and through the same autograd node as on the
CPU. The published formulations used as timing references equal the operators."""
import pytest
import torch
import torch.nn.functional as F

from mmdet3dctx.apis.gpu_check import (CHECKED_OPS, TOLERANCES, A3DEinsumReference, TSMSliceReference,
                                       available_devices, check_operator, check_operators, precisions_for,
                                       reference_slice_shift)
from mmdet3dctx.ops import A3DConv, TSMConv, slice_shift

CASES = [(device, precision) for device in available_devices() for precision in precisions_for(device)]


@pytest.mark.parametrize('device,precision', CASES)
@pytest.mark.parametrize('name', CHECKED_OPS)
def test_matches_float64_cpu(name, device, precision):
    row = check_operator(name, device, precision)
    tol = TOLERANCES[precision]
    assert row['out_err'] <= tol, row
    assert row['grad_err'] <= tol, row
    if precision == 'float32':  # far tighter than the stated tolerance in float32
        assert row['out_err'] < 1e-5 and row['grad_err'] < 1e-5, row
    else:  # autocast really ran in low precision (the error is that of bf16/fp16, not of float32)
        assert name == 'SliceGroupNorm' or row['out_err'] > 1e-5, row


def test_premix_node_in_float32_and_plain_node_under_autocast():
    """The one-node path is taken where gradients are recorded without autocast, on every device alike."""
    rows = {(r['op'], r['precision']): r for r in check_operators('cpu', ops=['A3DConv', 'TSMConv', 'ACSConv'])}
    assert rows['A3DConv', 'float32']['node'] == '_PremixConvFunctionBackward'
    assert rows['TSMConv', 'float32']['node'] == '_PremixConvFunctionBackward'
    assert rows['ACSConv', 'float32']['node'] == '_ACSConvFunctionBackward'
    assert rows['A3DConv', 'bf16']['node'] == 'ConvolutionBackward0'
    assert all(r['ok'] for r in rows.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_rows_take_the_cpu_path():
    rows = check_operators('cuda', precisions=['float32', 'bf16'])
    assert all(r['ok'] and r['same_path'] for r in rows), [r for r in rows if not r['ok']]


def test_failing_operator_is_a_failed_row(monkeypatch):
    from mmdet3dctx.apis import gpu_check

    def broken(*args, **kwargs):
        raise RuntimeError('called a synchronizing CUDA operation')

    monkeypatch.setattr(gpu_check, 'check_operator', broken)
    (row, ) = gpu_check.check_operators('cpu', precisions=['float32'], ops=['TSMConv'])
    assert not row['ok'] and 'synchronizing' in row['error']
    assert 'FAIL (RuntimeError: called a synchronizing' in gpu_check.format_correctness([row])


def test_a3d_einsum_reference_equals_a3d():
    torch.manual_seed(0)
    ours = A3DConv(8, 6, 3, padding=1, num_slices=5, bias=False).double()
    ref = A3DEinsumReference(8, 6, 3, 5, padding=1).double()
    with torch.no_grad():
        ref.weight.copy_(ours.weight.unsqueeze(2))
        ref.fusion_weight.copy_(ours.fusion_weight)
    x = torch.randn(2, 8, 5, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(ref(x), ours(x))


@pytest.mark.parametrize('ratio', [None, torch.tensor([0.25, 1.0], dtype=torch.float64)])
def test_slicing_reference_equals_slice_shift(ratio):
    x = torch.randn(2, 16, 4, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(reference_slice_shift(x, 2, ratio), slice_shift(x, 2, ratio))
    # the published TSM by hand: channels [0, 2) from d + 1, [2, 4) from d - 1
    assert torch.equal(reference_slice_shift(x, 2)[:, :2, :-1], x[:, :2, 1:])
    assert torch.equal(reference_slice_shift(x, 2)[:, 2:4, 0], torch.zeros_like(x[:, 2:4, 0]))


def test_tsm_slicing_reference_equals_tsm():
    torch.manual_seed(0)
    ours = TSMConv(16, 8, 3, padding=1, bias=False).double()
    ref = TSMSliceReference(16, 8, 3, padding=1).double()
    with torch.no_grad():
        ref.weight.copy_(ours.weight.unsqueeze(2))
    x = torch.randn(2, 16, 5, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(ref(x), ours(x))
    torch.testing.assert_close(ref(x), F.conv3d(slice_shift(x, 2), ours.weight.unsqueeze(2), None, 1, (0, 1, 1)))


@pytest.mark.parametrize('device', available_devices())
def test_reset_on_the_device_and_in_float64(device):
    """Re-initialising a moved operator builds its identity parts on the parameter's device and dtype."""
    from mmdet3dctx.ops import P3DConv
    a3d = A3DConv(4, 4, 3, padding=1, num_slices=3, init_noise=0.0).to(device, torch.float64)
    a3d.reset_fusion_weight()
    assert a3d.fusion_weight.dtype == torch.float64
    assert torch.equal(a3d.fusion_weight[:, :, 0].cpu(), torch.eye(3, dtype=torch.float64))
    p3d = P3DConv(4, 4, 3, padding=1).to(device)
    p3d.reset_depth_weight()
    assert p3d.depth_weight[:, :, 1, 0, 0].cpu().equal(torch.eye(4))
