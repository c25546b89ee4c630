import pytest
import torch

from mmdet3dctx.engine import cpu_autocast
from mmdet3dctx.models import DenseNet3D
from mmdet3dctx.ops import (AlignShiftConv, bound_input_slice_interval, call_with_input_slice_interval,
                            input_slice_interval_operators)
from mmdet3dctx.testing.tiny_detector import build_model, random_ct_batch, tiny_model_cfg


@pytest.mark.parametrize('op', ['A3DConv', 'NoFusionConv', 'AlignShiftConv'])
def test_train_step_and_predict(op):
    model = build_model(tiny_model_cfg(dict(type=op)))
    model.train()
    inputs, samples = random_ct_batch(model)
    assert inputs.shape == (2, 1, 3, 64, 64)
    losses = model.loss(inputs, samples)
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'):
        assert key in losses
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.denseblock1.denselayer1.conv2.weight.grad is not None
    model.eval()
    inputs, samples = random_ct_batch(model, training=False)
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert len(results) == 2
    pred = results[0].pred_instances
    assert pred.bboxes.shape[1] == 4 and pred.scores.shape[0] == pred.bboxes.shape[0] <= 50
    assert model._forward(inputs, samples)


def test_input_slice_interval_from_data_samples_reaches_the_backbone():
    model = build_model(tiny_model_cfg(dict(type='AlignShiftConv'))).eval()
    inputs, samples = random_ct_batch(model, training=False, input_slice_interval=(1.0, 8.0))
    input_slice_interval = model.get_input_slice_interval(samples)
    assert input_slice_interval.tolist() == [1.0, 8.0]
    with torch.no_grad():
        feats = model.extract_feat(inputs, input_slice_interval)
        direct = model.neck(call_with_input_slice_interval(model.backbone, inputs,
                                                           input_slice_interval=torch.tensor([1.0, 8.0])))
        other = model.extract_feat(inputs, torch.tensor([8.0, 1.0]))
    torch.testing.assert_close(feats[0], direct[0])
    assert not torch.allclose(feats[0], other[0])
    # a missing or NaN interval takes default_input_slice_interval
    samples[0].set_metainfo(dict(input_slice_interval=float('nan')))
    assert model.get_input_slice_interval(samples).tolist() == [model.default_input_slice_interval, 8.0]


def test_predict_is_per_sample_input_slice_interval_consistent():
    """Sample 0 predicted alone equals sample 0 predicted in a batch with another slice interval."""
    model = build_model(tiny_model_cfg(dict(type='AlignShiftConv'))).eval()
    inputs, samples = random_ct_batch(model, training=False, input_slice_interval=(1.0, 8.0))
    with torch.no_grad():
        both = model.extract_feat(inputs, model.get_input_slice_interval(samples))[0]
        alone = model.extract_feat(inputs[:1], model.get_input_slice_interval(samples[:1]))[0]
    torch.testing.assert_close(both[:1], alone, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('mode', ['loss', 'predict', 'tensor'])
def test_every_alignshift_operator_gets_each_samples_interval(monkeypatch, mode):
    """``loss``, ``predict`` and ``_forward`` bind the data samples' intervals to every AlignShift operator of the
    backbone for the call, and nothing stays bound after it."""
    model = build_model(tiny_model_cfg(dict(type='AlignShiftConv')))
    model.train(mode == 'loss')
    inputs, samples = random_ct_batch(model, training=mode == 'loss', input_slice_interval=(1.0, 8.0))
    seen = []
    shift_ratio = AlignShiftConv.shift_ratio

    def recording(self, t):
        seen.append((self, t.tolist()))
        return shift_ratio(self, t)

    monkeypatch.setattr(AlignShiftConv, 'shift_ratio', recording)
    with torch.set_grad_enabled(mode == 'loss'):
        {'loss': model.loss, 'predict': model.predict, 'tensor': model._forward}[mode](inputs, samples)
    ops = input_slice_interval_operators(model.backbone)
    assert len(ops) == 2 * len(model.backbone.block_config)  # both convolutions of every dense layer
    assert [m for m, _ in seen] == ops and all(t == [1.0, 8.0] for _, t in seen)
    assert all(bound_input_slice_interval(m) is None for m in ops)


def test_backbone_type():
    model = build_model(tiny_model_cfg())
    assert isinstance(model.backbone, DenseNet3D) and not input_slice_interval_operators(model.backbone)


def test_cpu_bf16_autocast_runs_backbone_in_bf16_heads_in_fp32():
    """The precision policy of ``--amp`` on CPU (``mmdet3dctx.engine.cpu_autocast``) on the detector."""
    model = build_model(tiny_model_cfg())
    model.train()
    inputs, samples = random_ct_batch(model)
    with cpu_autocast(model):
        assert model.extract_feat(inputs)[0].dtype == torch.bfloat16
        losses = model.loss(inputs, samples)  # MMCV's CPU NMS/RoIAlign need float32 heads
    assert losses['loss_cls'].dtype == torch.float32 and torch.isfinite(losses['loss_cls'])
    model.eval()
    inputs, samples = random_ct_batch(model, training=False)
    with torch.no_grad(), cpu_autocast(model):
        results = model.predict(inputs, samples)
    assert results[0].pred_instances.bboxes.dtype == torch.float32
