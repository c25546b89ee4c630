"""Every config builds; its detector trains a step and predicts on tiny inputs; swapping the 3D-context
operator changes nothing outside the backbone; one top-level variable (slice count, data root) reaches every place
that uses it."""
import copy
import functools
import glob
import os.path as osp

import pytest
import torch

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmdet3dctx.apis import read_config
from mmdet3dctx.ops import get_context_conv_class
from mmdet3dctx.testing.tiny_detector import shrink_detector, train_step_and_predict

register_all_modules(init_default_scope=True)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _configs(folder):
    return sorted(glob.glob(osp.join(ROOT, 'configs', folder, '*.py')))


def _rel(paths):
    return [osp.relpath(p, ROOT) for p in paths]


PAPER_3D = _configs('deeplesion')
PAPER_2D = _configs('deeplesion_2d')
PAPER = PAPER_3D + PAPER_2D
DEMOS = _configs('demo')
COCO_DEMOS = [p for p in DEMOS if 'coco_pseudo3d' in p]  # pretraining demos: tests/test_pretraining
DEMOS_2D = [p for p in DEMOS if osp.basename(p).startswith(('3dce', 'thickened', 'swin'))]  # tests/test_configs_2d.py
LESION_DEMOS = [p for p in DEMOS if p not in COCO_DEMOS]
#: the 3D-backbone route: a 3D backbone, a 3D->2D reduction, MMDetection's heads
#: the paper detectors on prepared CT volumes (tools/prepare_volumes.py)
VOLUMES = _configs('volumes')
CONFIGS = PAPER_3D + VOLUMES + [p for p in LESION_DEMOS if p not in DEMOS_2D]
#: the DenseNet3D paper configs (A3D and the operators compared with it)
#: the paper configs whose backbone starts from published ImageNet weights (MP3D: the whole detector from its COCO
#: pseudo-3D pretraining, ``test_mp3d_recipe``)
PAPER_FROM_IMAGENET = [p for p in PAPER if not osp.basename(p).startswith('mp3d')]
DENSENET3D_PAPER = [p for p in PAPER_3D if not osp.basename(p).startswith(('mp3d', 'resnet50'))]
OPERATORS = ('a3d', 'nofusion', 'i3d', 'p3d', 'acs', 'tsm', 'alignshift')


@functools.lru_cache(maxsize=None)
def _cached(path, options=()):
    return read_config(path, dict(options))


def _read(path, **options):
    """The config as ``tools/train.py CONFIG --cfg-options KEY=VALUE ...`` reads it (a copy of a cached read:
    MMDetection's ``mmdet::`` bases make each read take a while)."""
    return copy.deepcopy(_cached(path, tuple(sorted(options.items()))))


def test_every_expected_config_exists():
    names = {osp.basename(c) for c in CONFIGS}
    for n in (3, 7):
        for op in OPERATORS:
            assert f'{op}_{n}slice.py' in names
    assert {'mp3d63_9slice.py', 'resnet50_a3d_7slice.py', 'a3d_7slice_synthetic.py',
            'nofusion_7slice_synthetic.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=_rel(CONFIGS))
def test_config_builds_trains_and_predicts(path):
    cfg = _read(path)
    pipeline = cfg.train_dataloader.dataset.pipeline
    loaders = [t for t in pipeline if t['type'] in ('LoadDeepLesionSlices', 'LoadVolumeSlices')]
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
    _, results = train_step_and_predict(cfg.model, num_slices)
    assert len(results) == 2 and results[0].pred_instances.bboxes.shape[-1] == 4


@pytest.mark.parametrize('volumes,paper', [('volumes/a3d_7slice_finetune.py', 'deeplesion/a3d_7slice.py'),
                                           ('demo/a3d_7slice_volumes_synthetic.py', 'demo/a3d_7slice_synthetic.py')])
def test_volume_configs_change_only_the_dataset(volumes, paper):
    """A volume config is its detector config with the volume dataset, loader and metric: the model, the
    schedule and every pipeline step after the loader are the same."""
    a = _read(osp.join(ROOT, 'configs', paper)).to_dict()
    b = _read(osp.join(ROOT, 'configs', volumes)).to_dict()
    assert a['model'] == b['model'] and a['optim_wrapper'] == b['optim_wrapper']
    if 'demo' not in volumes:  # the demo shortens its schedule to the smaller dataset
        assert a['param_scheduler'] == b['param_scheduler'] and a['train_cfg'] == b['train_cfg']
    for key in ('train_dataloader', 'test_dataloader'):
        pa, pb = a[key]['dataset']['pipeline'], b[key]['dataset']['pipeline']
        assert b[key]['dataset']['type'] == 'VolumeLesionDataset' and pb[0]['type'] == 'LoadVolumeSlices'
        assert {k: v for k, v in pb[0].items() if k not in ('type', 'with_mask')} == \
            {k: v for k, v in pa[0].items() if k != 'type'}
        loads = [t for t in pa if t['type'] == 'LoadAnnotations']
        assert pb[1:] == (pa[1:] if key == 'test_dataloader' else [dict(type='LoadAnnotations', with_bbox=True)]
                          + pa[2:]), key
        assert bool(loads[0].get('with_mask')) == pb[0].get('with_mask', False), key  # masks where DeepLesion has them
    assert b['test_evaluator']['type'] == 'VolumeFROCMetric'


def test_volume_finetune_config_has_the_volume_dataset_base():
    """The fine-tuning leaf restates the dataset of ``_base_/datasets/volumes.py`` (a leaf inherits one detector
    config): the two agree on every dataloader, pipeline and evaluator."""
    base = _read(osp.join(ROOT, 'configs', '_base_', 'datasets', 'volumes.py')).to_dict()
    leaf = _read(osp.join(ROOT, 'configs', 'volumes', 'a3d_7slice_finetune.py')).to_dict()
    for key in ('data_root', 'train_pipeline', 'test_pipeline', 'train_dataloader', 'val_dataloader',
                'test_dataloader', 'val_evaluator', 'test_evaluator'):
        assert leaf[key] == base[key], key


@pytest.mark.parametrize('slices', [3, 7])
def test_swapping_operators_changes_only_the_backbone(slices):
    ref = _read(osp.join(ROOT, 'configs', 'deeplesion', f'a3d_{slices}slice.py'))
    for op in OPERATORS[1:]:
        cfg = _read(osp.join(ROOT, 'configs', 'deeplesion', f'{op}_{slices}slice.py'))
        a, b = ref.to_dict(), cfg.to_dict()
        bb_a, bb_b = a['model'].pop('backbone'), b['model'].pop('backbone')
        assert a['model'] == b['model'], op
        assert {k: v for k, v in bb_a.items() if k != 'context_conv'} == \
            {k: v for k, v in bb_b.items() if k != 'context_conv'}, op
        assert a['optim_wrapper'] == b['optim_wrapper'] and a['param_scheduler'] == b['param_scheduler']
        if op != 'alignshift':  # AlignShift reads the adjacent slices of the series (input_slice_interval=None)
            assert a['train_dataloader'] == b['train_dataloader'], op
            assert a['test_dataloader'] == b['test_dataloader'], op


@pytest.mark.parametrize('op', OPERATORS)
def test_three_slice_leaves_are_the_seven_slice_leaves_with_num_slices_3(op):
    """``*_3slice.py`` says ``num_slices = 3`` and nothing else: the whole resolved config equals the 7-slice leaf
    read with ``--cfg-options num_slices=3``."""
    three = _read(osp.join(ROOT, 'configs', 'deeplesion', f'{op}_3slice.py'))
    seven = _read(osp.join(ROOT, 'configs', 'deeplesion', f'{op}_7slice.py'), num_slices=3)
    assert three.to_dict() == seven.to_dict()
    assert three.model.backbone.num_slices == three.model.neck.reduction.num_slices == 3


def test_alignshift_is_the_a3d_leaf_with_its_operator_on_the_series_slices():
    align = _read(osp.join(ROOT, 'configs', 'deeplesion', 'alignshift_7slice.py')).to_dict()
    a3d = _read(osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py'), input_slice_interval=None).to_dict()
    assert align['model']['backbone'].pop('context_conv') == dict(type='AlignShiftConv')
    assert a3d['model']['backbone'].pop('context_conv') == dict(type='A3DConv')
    assert align == a3d


def test_operator_swap_keeps_parameters_outside_backbone():
    from mmdet3dctx.testing.tiny_detector import tiny_model_cfg
    shapes = []
    for op in ('A3DConv', 'NoFusionConv', 'ACSConv', 'I3DConv', 'P3DConv', 'TSMConv', 'AlignShiftConv'):
        model = MODELS.build(tiny_model_cfg(dict(type=op)))
        shapes.append({k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith('backbone.')})
    assert all(s == shapes[0] for s in shapes)


# ---- the papers' initialisation and recipes, read from the resolved configs ----
DENSENET121 = 'https://download.pytorch.org/models/densenet121-a639ec97.pth'
RESNET50 = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
SWIN_T = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'
PUBLISHED = {'DenseNet3D': DENSENET121, 'ResNet3D': RESNET50, 'ThickenedResNet': RESNET50,
             'InflatedSwinTransformer': SWIN_T}


@pytest.mark.parametrize('path', PAPER_FROM_IMAGENET, ids=_rel(PAPER_FROM_IMAGENET))
def test_paper_configs_start_from_the_published_weights(path):
    cfg = _read(path)
    bb = cfg.model.backbone
    assert bb.init_cfg == dict(type='Pretrained2D', checkpoint=PUBLISHED[bb.type])
    assert not cfg.get('load_from')
    cfg = _read(path, **{'model.backbone.init_cfg.checkpoint': '/weights/local.pth'})  # what --cfg-options does
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained2D', checkpoint='/weights/local.pth')


def _pretrained_inits(model):
    """``(module name, init_cfg)`` of every submodule of ``model`` set to load a checkpoint."""
    out = []
    for name, module in model.named_modules():
        inits = getattr(module, 'init_cfg', None)
        for init in inits if isinstance(inits, list) else [inits]:
            loads = isinstance(init, dict) and (init.get('checkpoint') or init.get('type') in ('Pretrained',
                                                                                                 'Pretrained2D'))
            if loads:
                out.append((name, init))
    return out


@pytest.mark.parametrize('path', DEMOS, ids=_rel(DEMOS))
def test_demos_train_from_scratch_on_one_cpu_process(path):
    """What the paper configs add for a GPU cluster is reset in the demos: the built model loads no pretrained
    weights, nothing is loaded before training (but for the fine-tuning demo, which loads the pretraining demo's
    own checkpoint), no SyncBN, no fp16."""
    cfg = _read(path)
    model = MODELS.build(cfg.model)
    assert _pretrained_inits(model) == []
    if osp.basename(path) == 'a3d_7slice_finetune_synthetic.py':
        assert cfg.load_from == 'work_dirs/a3d_coco_pseudo3d_synthetic/a3d_7slice_from_coco.pth'
    else:
        assert cfg.get('load_from') is None
    assert not cfg.get('sync_bn')
    assert cfg.optim_wrapper.type == 'OptimWrapper'


@pytest.mark.parametrize('path', DENSENET3D_PAPER, ids=_rel(DENSENET3D_PAPER))
def test_a3d_family_recipe(path):
    """DenseNet3D configs: the public A3D/AlignShift code's box losses, RoIAlign sampling and anchor border."""
    cfg = _read(path)
    m = cfg.model
    assert m.backbone.type == 'DenseNet3D'
    assert m.rpn_head.loss_bbox == dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)
    assert m.roi_head.bbox_head.loss_bbox == dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)
    assert m.roi_head.bbox_roi_extractor.roi_layer.sampling_ratio == 2
    assert m.roi_head.mask_roi_extractor.roi_layer.sampling_ratio == 2
    assert m.train_cfg.rpn.allowed_border == 0
    assert cfg.sync_bn == 'torch'  # SyncBN whenever training is distributed
    model = MODELS.build(shrink_detector(m))
    assert type(model.rpn_head.loss_bbox).__name__ == 'SmoothL1Loss' and model.rpn_head.loss_bbox.beta == 1 / 9


def test_mp3d_recipe():
    cfg = _read(osp.join(ROOT, 'configs', 'deeplesion', 'mp3d63_9slice.py'))
    # the whole detector from MP3D's COCO pseudo-3D pretraining, no backbone initialiser
    assert cfg.load_from and cfg.load_from.endswith('.pth') and not cfg.model.backbone.get('init_cfg')
    flips = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'RandomFlip']
    assert len(flips) == 1
    # independent horizontal and vertical flips with p = 0.5 each: h only, v only and both ('diagonal') 0.25 each
    prob = dict(zip(flips[0]['direction'], flips[0]['prob']))
    assert prob == {'horizontal': 0.25, 'vertical': 0.25, 'diagonal': 0.25}
    p_h, p_v = prob['horizontal'] + prob['diagonal'], prob['vertical'] + prob['diagonal']
    assert p_h == p_v == 0.5 and prob['diagonal'] == p_h * p_v
    assert [t['scales'] for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'RandomChoiceResize'] == \
        [[(448, 448), (512, 512), (576, 576)]]
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # fp16 on GPU, as the paper trained
    backbone = MODELS.build(dict(cfg.model.backbone, depth=18, base_channels=32))
    assert backbone.maxpool.kernel_size == (1, 3, 3)  # no pooling over slices
    with torch.no_grad():
        outs = backbone(torch.rand(1, 1, 9, 32, 32))
    assert [o.shape[2] for o in outs] == [9, 9, 9, 9]


def test_flips_of_the_other_paper_configs():
    for name, directions in (('a3d_7slice.py', 'horizontal'), ('alignshift_3slice.py', 'horizontal')):
        cfg = _read(osp.join(ROOT, 'configs', 'deeplesion', name))
        assert [t['direction'] for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'RandomFlip'] == \
            [directions]


def test_3dce_norm_eval_is_refused_without_a_checkpoint():
    for name in ('3dce_r50_9slice.py', 'thickened_esm_ssa_r50_9slice.py'):
        cfg = _read(osp.join(ROOT, 'configs', 'deeplesion_2d', name))
        bb = dict(cfg.model.backbone, depth=18)
        assert bb['norm_eval'] is True
        MODELS.build(bb)  # with the published checkpoint: allowed (built, nothing loaded)
        with pytest.raises(ValueError, match=r'norm_eval=True.*model\.backbone\.init_cfg'):
            MODELS.build(dict(bb, init_cfg=None))
    for name in ('3dce_r18_9slice_synthetic.py', 'thickened_esm_ssa_r18_9slice_synthetic.py'):
        assert _read(osp.join(ROOT, 'configs', 'demo', name)).model.backbone.norm_eval is False


def test_the_flagship_trains_with_its_dataset_base():
    """configs/deeplesion/a3d_7slice.py takes its data section from _base_/datasets/deeplesion_mask.py: the same
    pipelines and loaders; the slice settings are top-level variables of the leaf."""
    leaf = _read(osp.join(ROOT, 'configs', 'deeplesion', 'a3d_7slice.py'))
    base = _read(osp.join(ROOT, 'configs', '_base_', 'datasets', 'deeplesion_mask.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator'):
        assert leaf[key] == base[key], key
    assert (leaf.num_slices, leaf.input_slice_interval, tuple(leaf.window)) == (7, 2.0, (-1024, 2050))
    three = _read(osp.join(ROOT, 'configs', 'deeplesion', 'a3d_3slice.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert three[key].dataset.pipeline[0].num_slices == 3
        assert three[key].dataset.pipeline[1:] == leaf[key].dataset.pipeline[1:]
    # the test loader is the validation loader on the test split
    assert dict(leaf.val_dataloader, dataset=None) == dict(leaf.test_dataloader, dataset=None)
    val, test = leaf.val_dataloader.dataset, leaf.test_dataloader.dataset
    assert (val.split, test.split) == ('val', 'test')
    assert dict(val, split=None, ann_file=None) == dict(test, split=None, ann_file=None)


LEAVES = PAPER + VOLUMES + LESION_DEMOS


@pytest.mark.parametrize('path', LEAVES, ids=_rel(LEAVES))
def test_leaf_pipelines_agree(path):
    """The top-level pipelines (read by the inference API) and the loaders' are the same, and the slice settings
    of the data, the backbone and the 3D->2D reduction agree; ``--cfg-options data_root=...`` reaches every
    dataset."""
    cfg = _read(path, data_root='/elsewhere/DeepLesion')
    assert cfg.train_pipeline == cfg.train_dataloader.dataset.pipeline
    assert cfg.test_pipeline == cfg.test_dataloader.dataset.pipeline
    if cfg.get('val_dataloader'):
        assert cfg.test_pipeline == cfg.val_dataloader.dataset.pipeline
    loads = [p[0] for p in (cfg.train_pipeline, cfg.test_pipeline)]
    assert all(t['type'] == loads[0]['type'] in ('LoadDeepLesionSlices', 'LoadVolumeSlices') for t in loads)
    assert {k: v for k, v in loads[0].items() if k != 'with_mask'} == loads[1]  # volumes: masks for training
    assert loads[0]['num_slices'] == cfg.num_slices and loads[0]['window'] == cfg.window
    assert loads[0]['input_slice_interval'] == cfg.input_slice_interval
    for holder in (cfg.model.backbone, cfg.model.neck.get('reduction', {})):
        assert holder.get('num_slices', cfg.num_slices) == cfg.num_slices
    assert cfg.train_dataloader.dataset.data_root == cfg.test_dataloader.dataset.data_root == cfg.data_root
    assert cfg.data_root == '/elsewhere/DeepLesion'
    if cfg.get('val_dataloader'):
        assert cfg.val_dataloader.dataset.data_root == cfg.data_root
