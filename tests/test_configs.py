"""Every config builds; its detector trains a step and predicts on tiny inputs; swapping the 3D-context
operator changes nothing outside the backbone."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmdet3dctx.ops import get_context_conv_class
from tests.test_models.utils import tiny_batch

register_all_modules(init_default_scope=True)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'deeplesion', '*.py')) +
                 glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py')))
NAMES = [osp.relpath(c, ROOT) for c in CONFIGS]


def _shrink(model):
    """Keep the config's design (backbone type and operator, reduction, neck type, heads, slices) but make it
    cheap: fewer and narrower layers, narrow heads, fewer proposals."""
    bb = model.backbone
    bb.init_cfg = None  # no pretrained weights for the shrunk copy (the full configs' are tested in test_pretraining)
    if bb.type == 'DenseNet3D':
        bb.block_config, bb.growth_rate, bb.num_init_features = (1, 1, 1), 8, 16
        chans = [24, 20, 18]
    elif bb.type == 'ResNet3D':
        bb.depth = 18
        chans = [64, 128, 256]
    else:  # MP3DResNet
        bb.depth, bb.base_channels = 18, 32
        chans = [128, 256, 512, 1024]
    model.neck.neck.in_channels = chans
    model.neck.neck.out_channels = 32
    model.rpn_head.in_channels = model.rpn_head.feat_channels = 32
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = 32
    roi.bbox_head.in_channels, roi.bbox_head.fc_out_channels = 32, 32
    if roi.get('mask_head'):
        roi.mask_roi_extractor.out_channels = 32
        roi.mask_head.in_channels, roi.mask_head.conv_out_channels, roi.mask_head.num_convs = 32, 8, 1
    for key in ('rpn_proposal', ):
        model.train_cfg[key].update(nms_pre=500, max_per_img=100)
    model.test_cfg.rpn.update(nms_pre=500, max_per_img=50)
    return model


def test_every_expected_config_exists():
    names = {osp.basename(c) for c in CONFIGS}
    for n in (3, 7):
        for op in ('a3d', 'nofusion', 'i3d', 'p3d', 'acs', 'tsm', 'alignshift'):
            assert f'{op}_{n}slice.py' in names
    assert {'mp3d63_9slice.py', 'resnet50_a3d_7slice.py', 'a3d_7slice_synthetic.py',
            'nofusion_7slice_synthetic.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=NAMES)
def test_config_builds_trains_and_predicts(path):
    cfg = Config.fromfile(path)
    pipeline = cfg.train_dataloader.dataset.pipeline
    loaders = [t for t in pipeline if t['type'] == 'LoadDeepLesionSlices']
    if not loaders:
        pytest.skip('COCO pseudo-3D pretraining config: tested in tests/test_pretraining')
    if cfg.model.backbone.type in ('ThickenedResNet', 'InflatedSwinTransformer'):
        pytest.skip('2D-network route (no slice reduction): tested in tests/test_configs_2d.py')
    num_slices = cfg.model.neck.reduction.num_slices
    assert loaders and loaders[0]['num_slices'] == num_slices
    if cfg.model.backbone.type != 'MP3DResNet':
        assert cfg.model.backbone.num_slices == num_slices
    op = cfg.model.backbone.get('context_conv', dict(type='NoFusionConv'))['type']
    get_context_conv_class(op)
    if 'demo' not in path:  # full size: build only
        full = MODELS.build(cfg.model)
        assert full.backbone.__class__.__name__ == cfg.model.backbone.type
        del full
    model = MODELS.build(_shrink(cfg.model))
    model.init_weights()
    model.train()
    inputs, samples = tiny_batch(model, num_slices=num_slices, size=64)
    losses = model.loss(inputs, samples)
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    inputs, samples = tiny_batch(model, num_slices=num_slices, size=64, training=False)
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert len(results) == 2 and results[0].pred_instances.bboxes.shape[-1] == 4


@pytest.mark.parametrize('slices', [3, 7])
def test_swapping_operators_changes_only_the_backbone(slices):
    ref = Config.fromfile(osp.join(ROOT, 'configs', 'deeplesion', f'a3d_{slices}slice.py'))
    for op in ('nofusion', 'i3d', 'p3d', 'acs', 'tsm', 'alignshift'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'deeplesion', f'{op}_{slices}slice.py'))
        a, b = ref.to_dict(), cfg.to_dict()
        bb_a, bb_b = a['model'].pop('backbone'), b['model'].pop('backbone')
        a['model'].pop('thickness_key', None), b['model'].pop('thickness_key', None)
        assert a['model'] == b['model'], op
        assert {k: v for k, v in bb_a.items() if k != 'context_conv'} == \
            {k: v for k, v in bb_b.items() if k != 'context_conv'}, op
        assert a['optim_wrapper'] == b['optim_wrapper'] and a['param_scheduler'] == b['param_scheduler']
        if op != 'alignshift':  # AlignShift reads the adjacent slices of the series (slice_interval=None)
            assert a['train_dataloader'] == b['train_dataloader'], op
            assert a['test_dataloader'] == b['test_dataloader'], op


def test_operator_swap_keeps_parameters_outside_backbone():
    from tests.test_models.utils import tiny_model_cfg
    shapes = []
    for op in ('A3DConv', 'NoFusionConv', 'ACSConv', 'I3DConv', 'P3DConv', 'TSMConv', 'AlignShiftConv'):
        model = MODELS.build(tiny_model_cfg(dict(type=op)))
        shapes.append({k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith('backbone.')})
    assert all(s == shapes[0] for s in shapes)
