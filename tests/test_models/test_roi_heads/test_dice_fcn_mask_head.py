"""DiceFCNMaskHead: the reference's Dice loss on each RoI's class channel, values checked by hand."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.mask import BitmapMasks

EPS = 0.01  # the reference's smoothing term
BIG = 30.  # logit whose sigmoid is 1 (or 0) to float precision


def _head(**kwargs):
    cfg = dict(type='DiceFCNMaskHead', num_convs=1, in_channels=8, conv_out_channels=4, num_classes=3)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _logits(mask):
    """Confident logits reproducing a binary ``mask``."""
    return torch.where(mask.bool(), torch.tensor(BIG), torch.tensor(-BIG))


def _naive_dice_loss(p, t):
    """1 - (2 sum(p t) + eps) / (sum(p) + sum(t) + eps), p and t as floats or tensors."""
    return 1 - (2 * (p * t).sum() + EPS) / (p.sum() + t.sum() + EPS)


def test_default_loss_is_the_reference_dice():
    head = _head()
    loss = head.loss_mask
    assert type(loss).__name__ == 'DiceLoss'
    assert loss.use_sigmoid and loss.activate and loss.naive_dice
    assert loss.eps == EPS and loss.loss_weight == 1.0 and loss.reduction == 'mean'


def test_dice_values_by_hand():
    head = _head(num_classes=1)
    labels = torch.zeros(1, dtype=torch.long)
    top = torch.zeros(1, 28, 28)
    top[:, :14] = 1  # 392 pixels
    left = torch.zeros(1, 28, 28)
    left[:, :, :14] = 1  # 392 pixels, 196 of them in `top`

    perfect = head.loss_by_preds(_logits(top)[:, None], top, labels)
    assert float(perfect) == pytest.approx(0., abs=1e-6)

    disjoint = head.loss_by_preds(_logits(1 - top)[:, None], top, labels)
    assert float(disjoint) == pytest.approx(1 - EPS / (392 + 392 + EPS), abs=1e-6)  # 0.9999872
    assert float(disjoint) > 0.9999

    # half of the predicted pixels inside the target: 1 - (2*196 + eps) / (392 + 392 + eps)
    partial = head.loss_by_preds(_logits(left)[:, None], top, labels)
    assert float(partial) == pytest.approx(1 - (392 + EPS) / (784 + EPS), abs=1e-6)

    # zero logits: p = 0.5 everywhere (784 px), 100 target pixels. First powers in the denominator (the
    # reference's form): 1 - (2*50 + eps) / (392 + 100 + eps) = 0.79674; V-Net's squares would give 0.66216.
    t = torch.zeros(1, 28, 28)
    t[0, :10, :10] = 1
    soft = head.loss_by_preds(torch.zeros(1, 1, 28, 28), t, labels)
    assert float(soft) == pytest.approx(1 - (100 + EPS) / (492 + EPS), abs=1e-6)
    assert float(soft) == pytest.approx(0.796737, abs=1e-5)

    # per-RoI Dice averaged over RoIs: (perfect + disjoint) / 2
    two = head.loss_by_preds(torch.cat([_logits(top), _logits(1 - top)])[:, None], top.repeat(2, 1, 1),
                             torch.zeros(2, dtype=torch.long))
    assert float(two) == pytest.approx((float(perfect) + float(disjoint)) / 2, abs=1e-6)


def test_class_specific_channel_selection():
    head = _head(num_classes=3)
    targets = torch.zeros(2, 28, 28)
    targets[0, 4:20, 6:26] = 1
    targets[1, 10:, :12] = 1
    labels = torch.tensor([2, 0])
    # every channel predicts the complement of the RoI's target, except the RoI's own class channel
    preds = _logits(1 - targets)[:, None].repeat(1, 3, 1, 1)
    preds[0, 2] = _logits(targets[0])
    preds[1, 0] = _logits(targets[1])
    assert float(head.loss_by_preds(preds, targets, labels)) == pytest.approx(0., abs=1e-6)
    # any other channel is the complement: Dice ~ 0, loss ~ 1 per wrongly selected RoI
    for wrong in (torch.tensor([0, 2]), torch.tensor([1, 1]), torch.tensor([1, 2])):
        assert float(head.loss_by_preds(preds, targets, wrong)) > 0.999
    assert float(head.loss_by_preds(preds, targets, torch.tensor([0, 0]))) == pytest.approx(0.5, abs=1e-4)
    sel = head.select_class_channel(preds, labels)
    assert torch.equal(sel, torch.stack([preds[0, 2], preds[1, 0]]))

    agnostic = _head(num_classes=3, class_agnostic=True)
    assert agnostic.conv_logits.out_channels == 1
    one = torch.stack([_logits(targets[0]), _logits(1 - targets[1])])[:, None]
    # the labels are ignored: channel 0 is used, RoI 0 perfect, RoI 1 the complement -> (0 + ~1) / 2
    assert float(agnostic.loss_by_preds(one, targets, labels)) == pytest.approx(0.5, abs=1e-4)


def _gt(boxes, labels, masks):
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32), labels=torch.tensor(labels),
                        masks=BitmapMasks(masks, 64, 64))


def _sampling_results(gt_instances, proposals):
    assigner = TASK_UTILS.build(dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5))
    sampler = TASK_UTILS.build(dict(type='PseudoSampler'))
    results = []
    for gt, props in zip(gt_instances, proposals):
        pred = InstanceData(priors=torch.tensor(props, dtype=torch.float32).reshape(-1, 4))
        results.append(sampler.sample(assigner.assign(pred, gt), pred, gt))
    return results


def test_loss_and_target_on_sampled_rois():
    """The path StandardRoIHead takes: 28x28 targets from the ground-truth masks, loss on the label's channel."""
    head = _head(num_classes=3)
    masks = np.zeros((2, 64, 64), np.uint8)
    masks[0, 8:36, 8:22] = 1  # left half of the 28 x 28 box (8, 8, 36, 36)
    masks[1, 30:58, 30:58] = 1  # the whole box (30, 30, 58, 58)
    gt = _gt([[8, 8, 36, 36], [30, 30, 58, 58]], [2, 0], masks)
    # proposals equal to the ground-truth boxes (in reverse order) plus a background one
    results = _sampling_results([gt], [[[30, 30, 58, 58], [8, 8, 36, 36], [0, 0, 6, 6]]])
    rcnn_cfg = ConfigDict(mask_size=28)
    labels = results[0].pos_gt_labels
    assert labels.tolist() == [0, 2]
    targets = head.get_targets(results, [gt], rcnn_cfg)
    assert targets.shape == (2, 28, 28)
    expected = torch.zeros(2, 28, 28)
    expected[0] = 1
    expected[1, :, :14] = 1
    torch.testing.assert_close(targets, expected)

    preds = _logits(1 - expected)[:, None].repeat(1, 3, 1, 1)
    preds[0, 0] = _logits(expected[0])
    preds[1, 2] = _logits(expected[1])
    out = head.loss_and_target(preds, results, [gt], rcnn_cfg)
    assert set(out) == {'loss_mask', 'mask_targets'} and set(out['loss_mask']) == {'loss_mask'}
    assert float(out['loss_mask']['loss_mask']) == pytest.approx(0., abs=1e-6)

    # zero logits (p = 0.5): RoI 0 has 784 target pixels, RoI 1 has 392
    out = head.loss_and_target(torch.zeros(2, 3, 28, 28), results, [gt], rcnn_cfg)
    by_hand = ((1 - (784 + EPS) / (392 + 784 + EPS)) + (1 - (392 + EPS) / (392 + 392 + EPS))) / 2
    assert float(out['loss_mask']['loss_mask']) == pytest.approx(by_hand, abs=1e-6)


def test_gradient_reaches_the_selected_channel_only():
    head = _head(num_classes=3)
    feats = torch.randn(2, 8, 14, 14, requires_grad=True)
    targets = torch.zeros(2, 28, 28)
    targets[:, 8:20, 8:20] = 1
    loss = head.loss_by_preds(head(feats), targets, torch.tensor([2, 0]))
    loss.backward()
    g = head.conv_logits.weight.grad
    assert g[0].abs().sum() > 0 and g[2].abs().sum() > 0
    assert torch.count_nonzero(g[1]) == 0  # no RoI of class 1
    assert head.convs[0].conv.weight.grad.abs().sum() > 0 and feats.grad.abs().sum() > 0


def test_no_positive_rois():
    head = _head(num_classes=3)
    empty_gt = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long),
                            masks=BitmapMasks(np.zeros((0, 64, 64), np.uint8), 64, 64))
    results = _sampling_results([empty_gt], [[[0, 0, 10, 10], [20, 20, 40, 40]]])
    assert results[0].pos_inds.numel() == 0
    preds = head(torch.randn(0, 8, 14, 14))
    assert preds.shape == (0, 3, 28, 28)
    out = head.loss_and_target(preds, results, [empty_gt], ConfigDict(mask_size=28))
    loss = out['loss_mask']['loss_mask']
    assert loss.requires_grad and float(loss.detach()) == 0.
    loss.backward()


def test_state_dict_matches_fcn_mask_head():
    """Same layers as FCNMaskHead: checkpoints (e.g. COCO pseudo-3D pretraining) load either way."""
    kwargs = dict(num_convs=2, in_channels=8, conv_out_channels=4, num_classes=3)
    ours = MODELS.build(dict(type='DiceFCNMaskHead', **kwargs))
    theirs = MODELS.build(dict(type='FCNMaskHead', **kwargs))
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 8, 14, 14)
    torch.testing.assert_close(ours(x), theirs(x))


def test_rejects_a_use_mask_loss():
    with pytest.raises(ValueError, match='use_mask'):
        _head(loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))


def _tiny_demo_detector():
    from mmdet3dctx.testing.tiny_detector import build_model, tiny_model_cfg
    cfg = tiny_model_cfg()  # configs/demo/a3d_7slice_synthetic.py, shrunk
    assert cfg.roi_head.mask_head.type == 'DiceFCNMaskHead'
    assert cfg.roi_head.mask_head.loss_mask.type == 'DiceLoss' and cfg.roi_head.mask_head.loss_mask.naive_dice
    model = build_model(cfg)
    model.train()
    return model


def test_demo_detector_training_step():
    from mmdet3dctx.testing.tiny_detector import random_ct_batch
    model = _tiny_demo_detector()
    inputs, samples = random_ct_batch(model)
    losses = model.loss(inputs, samples)
    loss_mask = losses['loss_mask']
    assert loss_mask.ndim == 0 and 0. < float(loss_mask.detach()) < 1.  # a mean Dice loss of untrained logits
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.roi_head.mask_head.conv_logits.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def test_demo_detector_step_without_lesions():
    """Key slices without lesions: no positive RoI, the mask loss is zero and the step still runs."""
    from mmdet3dctx.testing.tiny_detector import random_ct_batch
    model = _tiny_demo_detector()
    inputs, samples = random_ct_batch(model)
    for s in samples:
        s.gt_instances = s.gt_instances[torch.zeros(len(s.gt_instances), dtype=torch.bool)]
        assert len(s.gt_instances) == 0
    losses = model.loss(inputs, samples)
    assert float(losses['loss_mask'].detach()) == 0.
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
