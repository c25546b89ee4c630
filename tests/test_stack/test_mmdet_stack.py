"""The installed stack works: a stock MMDetection Mask R-CNN builds from its own config, trains a step and
predicts on CPU with MMCV's compiled RoIAlign and NMS; and ``import mmdet3dctx`` registers the plugins."""
import numpy as np
import pytest
import torch

mmdet = pytest.importorskip('mmdet')


def test_mmcv_compiled_ops_exact_values():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]  # IoU(0, 1) = 81 / 119 > 0.5
    feat = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    # one bin covering pixel centres 1..2 in x and y, 1 sample: the bilinear value at (1.5, 1.5) is 7.5
    roi = torch.tensor([[0, 1.0, 1.0, 3.0, 3.0]])
    out = RoIAlign((1, 1), spatial_scale=1.0, sampling_ratio=1, aligned=True)(feat, roi)
    assert out.item() == pytest.approx(7.5)


def test_stock_mask_rcnn_trains_and_predicts_on_cpu():
    from mmengine.config import Config
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmdet.utils import register_all_modules
    register_all_modules()
    import os.path as osp
    cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'mask_rcnn',
                                   'mask-rcnn_r50_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None  # no download: weights come from a user-given path only
    cfg.model.backbone.depth = 18
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    model = MODELS.build(cfg.model)
    model.init_weights()
    roi_layer = model.roi_head.bbox_roi_extractor.roi_layers[0]
    from mmcv.ops import RoIAlign
    assert isinstance(roi_layer, RoIAlign)

    torch.manual_seed(0)
    packed = demo_mm_inputs(2, [[3, 128, 128], [3, 128, 128]], num_items=[3, 2], with_mask=True)
    data = model.data_preprocessor(packed, True)
    model.train()
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert len(grads) > 50 and all(torch.isfinite(g).all() for g in grads)

    model.eval()
    data = model.data_preprocessor(packed, False)
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2
    for p in preds:
        inst = p.pred_instances
        assert inst.bboxes.shape[1] == 4 and len(inst.scores) == len(inst.bboxes) == len(inst.masks)
        assert len(inst.bboxes) <= 100
        if len(inst.scores) > 1:
            assert np.all(np.diff(inst.scores.numpy()) <= 0)  # sorted by score


def test_import_registers_plugins():
    import mmdet3dctx  # noqa: F401
    from mmdet.registry import MODELS
    for name in ('NoFusionConv', 'A3DConv', 'ACSConv', 'SoftACSConv', 'I3DConv', 'P3DConv', 'TSMConv',
                 'AlignShiftConv'):
        assert MODELS.get(name) is not None, name
    conv = MODELS.build(dict(type='A3DConv', in_channels=4, out_channels=8, kernel_size=3, padding=1, num_slices=3))
    assert conv(torch.randn(1, 4, 3, 8, 8)).shape == (1, 8, 3, 8, 8)


def test_convmodule_wraps_context_convs():
    import mmdet3dctx  # noqa: F401
    from mmcv.cnn import ConvModule
    m = ConvModule(4, 8, 3, padding=1, conv_cfg=dict(type='ACSConv'), norm_cfg=dict(type='BN3d'))
    y = m(torch.randn(2, 4, 3, 8, 8))
    assert y.shape == (2, 8, 3, 8, 8) and (y >= 0).all()  # ReLU after BN
