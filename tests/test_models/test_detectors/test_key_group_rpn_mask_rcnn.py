"""KeyGroupRPNMaskRCNN: 3DCE's RPN on the key group of slices alone, RoI head on the fused maps."""
import copy

import pytest
import torch

from mmdet.models.backbones import ResNet
from mmdet3dctx.apis import read_config
from mmdet3dctx.engine import cpu_autocast
from mmdet3dctx.models import ContextMaskRCNN, KeyGroupRPNMaskRCNN
from mmdet3dctx.testing.tiny_detector import build_model, random_ct_batch, tiny_model_cfg

CONFIG = 'configs/demo/3dce_r18_9slice_synthetic.py'
ESM_CONFIG = 'configs/demo/thickened_esm_ssa_r18_9slice_synthetic.py'


def model_cfg(config=CONFIG, **overrides):
    cfg = copy.deepcopy(read_config(config).model)
    cfg.update(overrides)
    return cfg


class Recorder:
    """Inputs of the RPN head and of the RoI head's box feature extractor, per call."""

    def __init__(self, model):
        self.rpn, self.roi = [], []
        model.rpn_head.register_forward_hook(lambda m, args, out: self.rpn.append(args[0]))
        model.roi_head.bbox_roi_extractor.register_forward_hook(lambda m, args, out: self.roi.append(args[0]))


def test_demo_config_builds_the_key_group_rpn():
    model = build_model(model_cfg())
    assert isinstance(model, KeyGroupRPNMaskRCNN) and model.rpn_on_key_group
    assert not build_model(model_cfg(ESM_CONFIG)).rpn_on_key_group


def test_rpn_input_is_the_key_groups_pyramid_and_the_roi_input_the_fused_one():
    model = build_model(model_cfg()).eval()
    rec = Recorder(model)
    inputs, samples = random_ct_batch(model, num_slices=9, training=False)
    with torch.no_grad():
        model.predict(inputs, samples)
        fused, key = model.backbone(inputs, return_key_group=True)
        key_pyramid, fused_pyramid = model.neck(key), model.neck(fused)
        # the key group's maps are the shared 2D ResNet on slices 3-5 alone
        plain = ResNet(depth=18, base_channels=32, out_indices=(0, 1, 2, 3))
        plain.eval()  # mmdet's ResNet.train() does not return the module
        missing, unexpected = plain.load_state_dict(model.backbone.state_dict(), strict=False)
        assert not missing and all(k.startswith('fusion_convs.') for k in unexpected)
        alone = plain(inputs[:, 0, 3:6])
    assert len(rec.rpn) == 1 and len(rec.roi) == 1
    for a, b in zip(rec.rpn[0], key_pyramid):
        assert torch.equal(a, b)
    for a, b in zip(rec.roi[0], fused_pyramid):
        assert torch.equal(a, b)
    for a, b in zip(key, alone):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # the fusion convs were trained apart from their key-group start: fused and key pyramids differ
    with torch.no_grad():
        for conv in model.backbone.fusion_convs.values():
            conv.weight.add_(0.01 * torch.randn_like(conv.weight))
        rpn_x, roi_x = model.extract_rpn_roi_feat(inputs)
    assert not torch.allclose(rpn_x[0], roi_x[0])


def test_rpn_ignores_the_context_slices_and_the_roi_head_does_not():
    model = build_model(model_cfg()).eval()
    with torch.no_grad():
        for conv in model.backbone.fusion_convs.values():
            conv.weight.normal_(0, 0.02)
    inputs, samples = random_ct_batch(model, num_slices=9, training=False)
    other = inputs.clone()
    other[:, :, :3] = torch.randn_like(other[:, :, :3])
    other[:, :, 6:] = torch.randn_like(other[:, :, 6:])
    with torch.no_grad():
        rpn_a, roi_a = model.extract_rpn_roi_feat(inputs)
        rpn_b, roi_b = model.extract_rpn_roi_feat(other)
    for a, b in zip(rpn_a, rpn_b):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    assert all((a - b).abs().max() > 1e-2 for a, b in zip(roi_a, roi_b))
    # gradients: the RPN losses reach the key slices only (BN on running statistics, as in eval mode)
    inputs = inputs.clone().requires_grad_()
    losses = model.loss(inputs, samples)
    rpn_loss = sum(losses['loss_rpn_cls']) + sum(losses['loss_rpn_bbox'])
    grad, = torch.autograd.grad(rpn_loss, inputs, retain_graph=True)
    assert grad[:, :, 3:6].abs().sum() > 0
    assert grad[:, :, :3].abs().sum() == 0 and grad[:, :, 6:].abs().sum() == 0
    grad, = torch.autograd.grad(losses['loss_cls'], inputs)
    assert grad[:, :, :3].abs().sum() > 0 and grad[:, :, 6:].abs().sum() > 0


def _losses_and_predictions(model, seed=0):
    model.train()
    inputs, samples = random_ct_batch(model, num_slices=9)
    torch.manual_seed(seed)  # the RPN and RoI samplers draw at random
    losses = model.loss(inputs, samples)
    model.eval()
    inputs, samples = random_ct_batch(model, num_slices=9, training=False)
    with torch.no_grad():
        preds = model.predict(inputs, samples)
        raw = model._forward(inputs, samples)
    return losses, preds, raw


def test_switched_off_it_is_context_mask_rcnn():
    torch.manual_seed(0)
    on = build_model(model_cfg())
    with torch.no_grad():
        for conv in on.backbone.fusion_convs.values():
            conv.weight.normal_(0, 0.02)
    off = build_model(model_cfg(rpn_on_key_group=False))
    old_cfg = model_cfg(type='ContextMaskRCNN')
    old_cfg.pop('rpn_on_key_group')
    old = build_model(old_cfg)
    assert type(old) is ContextMaskRCNN
    off.load_state_dict(on.state_dict())
    old.load_state_dict(on.state_dict())
    rec = Recorder(off)
    l_off, p_off, r_off = _losses_and_predictions(off)
    l_old, p_old, r_old = _losses_and_predictions(old)
    l_on, p_on, _ = _losses_and_predictions(on)
    assert l_off.keys() == l_old.keys() == l_on.keys()
    for k in l_old:
        torch.testing.assert_close(l_off[k], l_old[k], rtol=0, atol=0)
    for a, b in zip(p_off, p_old):
        assert torch.equal(a.pred_instances.bboxes, b.pred_instances.bboxes)
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)
    for a, b in zip(r_off[0], r_old[0]):
        assert torch.equal(a, b)
    # off: the RPN and the RoI head read the same (fused) maps
    assert all(torch.equal(a, b) for a, b in zip(rec.rpn[-1], rec.roi[-1]))
    # on: the RPN losses differ (other input maps), on the same weights
    assert not torch.equal(torch.stack(l_on['loss_rpn_cls']), torch.stack(l_off['loss_rpn_cls']))


def test_training_step_and_prediction_of_the_3dce_demo_config():
    model = build_model(model_cfg())
    model.train()
    inputs, samples = random_ct_batch(model, num_slices=9, size=128)
    losses = model.loss(inputs, samples)
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'} <= set(losses)
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.fusion_convs['3'].weight.grad.abs().sum() > 0  # the RoI head's losses
    assert model.rpn_head.rpn_conv.weight.grad.abs().sum() > 0
    model.eval()
    inputs, samples = random_ct_batch(model, num_slices=9, size=128, training=False)
    with torch.no_grad():
        results = model.predict(inputs, samples)
        raw = model._forward(inputs, samples)
    assert len(results) == 2
    pred = results[0].pred_instances
    assert pred.bboxes.shape[1] == 4 and pred.scores.shape[0] == pred.bboxes.shape[0] <= 50
    assert torch.isfinite(pred.bboxes).all() and len(raw) == 1
    with torch.no_grad(), cpu_autocast(model):  # --amp on CPU: heads in float32
        results = model.predict(inputs, samples)
    assert results[0].pred_instances.bboxes.dtype == torch.float32


def test_backbones_without_key_group_maps_are_refused():
    with pytest.raises(ValueError, match="fusion='esm'.*rpn_on_key_group=False"):
        build_model(model_cfg(ESM_CONFIG, rpn_on_key_group=True))
    dense = tiny_model_cfg()
    dense.type = 'KeyGroupRPNMaskRCNN'
    with pytest.raises(ValueError, match='DenseNet3D does not .*no return_key_group'):
        build_model(dense)
    dense.rpn_on_key_group = False
    assert not build_model(dense).rpn_on_key_group
