"""Detectors shrunk to seconds per step, and random CT batches for them: what the tests, the benchmarks and the
GPU check's ``--quick`` mode build.

:func:`shrink_detector` keeps a config's design (backbone type and 3D-context operator, 3D->2D reduction, neck,
heads, slice count) and makes it cheap; :data:`TINY_MODEL_OPTIONS` is the same shrink of the demo model written as
``--cfg-options``, for runs through ``tools/train.py``; :func:`random_ct_batch` is a preprocessed batch with two
boxes and masks per image.
"""
import copy
from typing import Sequence, Tuple, Union

import numpy as np
import torch

DEMO_CONFIG = 'configs/demo/a3d_7slice_synthetic.py'

#: The demo model (``DEMO_CONFIG``) with :func:`shrink_detector`'s backbone and widths, as ``--cfg-options`` under
#: ``model.`` (what a command line can set).
TINY_MODEL_OPTIONS = {
    'backbone.block_config': (1, 1, 1),
    'backbone.growth_rate': 8,
    'backbone.num_init_features': 16,
    'neck.neck.in_channels': [24, 20, 18],
    'neck.neck.out_channels': 32,
    'rpn_head.in_channels': 32,
    'rpn_head.feat_channels': 32,
    'roi_head.bbox_roi_extractor.out_channels': 32,
    'roi_head.mask_roi_extractor.out_channels': 32,
    'roi_head.bbox_head.in_channels': 32,
    'roi_head.bbox_head.fc_out_channels': 32,
    'roi_head.mask_head.in_channels': 32,
    'roi_head.mask_head.conv_out_channels': 8,
}

#: Narrow heads' width.
TINY_WIDTH = 32


def tiny_cfg_options(**extra) -> dict:
    """``--cfg-options`` that shrink a demo config's model and train it one epoch (checkpoint each epoch)."""
    options = {f'model.{k}': v for k, v in TINY_MODEL_OPTIONS.items()}
    options.update({'train_cfg.max_epochs': 1, 'default_hooks.checkpoint.interval': 1})
    options.update(extra)
    return options


def tiny_cfg_argv(**extra) -> list:
    """:func:`tiny_cfg_options` as the ``--cfg-options ...`` of a command line."""
    out = []
    for k, v in tiny_cfg_options(**extra).items():
        if isinstance(v, list):
            v = '[' + ','.join(map(str, v)) + ']'
        elif isinstance(v, tuple):
            v = '(' + ','.join(map(str, v)) + ',)'
        out.append(f'{k}={v}')
    return ['--cfg-options'] + out


def _densenet3d_channels(bb) -> list:
    """Output channels of a DenseNet3D config: a transition halves the channels before each block but the first."""
    channels, outs = bb.num_init_features, []
    for i, n in enumerate(bb.block_config):
        channels = channels // 2 if i else channels
        channels += n * bb.growth_rate
        outs.append(channels)
    return [outs[i] for i in bb.get('out_indices', (0, 1, 2))]


def _shrink_backbone(bb) -> list:
    """Shrink a backbone config in place; returns the channels of its outputs."""
    bb.pop('init_cfg', None)  # from scratch: nothing downloads
    stages = bb.get('out_indices', (0, 1, 2, 3))
    if bb.type == 'DenseNet3D':
        bb.block_config, bb.growth_rate, bb.num_init_features = (1, 1, 1), 8, 16
        return _densenet3d_channels(bb)
    if bb.type == 'ResNet3D':
        bb.depth = 18
        return [64 * 2**i for i in stages]
    if bb.type == 'MP3DResNet':
        bb.depth, bb.base_channels = 18, 32
        return [128 * 2**i for i in stages]
    if bb.type == 'ThickenedResNet':
        bb.depth, bb.base_channels = 18, 16
        bb.norm_eval = False  # frozen statistics need a checkpoint
        return [16 * 2**i for i in stages]
    if 'Swin' in bb.type:
        bb.embed_dims, bb.depths, bb.num_heads = 16, [1, 1, 1, 1], [1, 1, 2, 2]
        bb.window_size, bb.convert_weights = 4, False
        return [16 * 2**i for i in stages]
    raise ValueError(f'shrink_detector: no tiny form for backbone {bb.type!r}')


def shrink_detector(model_cfg):
    """Make a detector config tiny in place, keeping its design: one layer per stage, narrow (32-channel) neck and
    heads, fewer proposals, no pretrained initialisation. Returns ``model_cfg``."""
    chans = _shrink_backbone(model_cfg.backbone)
    neck = model_cfg.neck.neck if 'neck' in model_cfg.neck else model_cfg.neck  # a 3D->2D reduction wraps the FPN
    neck.in_channels, neck.out_channels = chans, TINY_WIDTH
    model_cfg.rpn_head.in_channels = model_cfg.rpn_head.feat_channels = TINY_WIDTH
    roi = model_cfg.roi_head
    roi.bbox_roi_extractor.out_channels = TINY_WIDTH
    roi.bbox_head.in_channels = roi.bbox_head.fc_out_channels = TINY_WIDTH
    if roi.get('mask_head'):
        roi.mask_roi_extractor.out_channels = TINY_WIDTH
        roi.mask_head.in_channels, roi.mask_head.conv_out_channels, roi.mask_head.num_convs = TINY_WIDTH, 8, 1
    model_cfg.train_cfg.rpn_proposal.update(nms_pre=500, max_per_img=100)
    model_cfg.test_cfg.rpn.update(nms_pre=500, max_per_img=50)
    return model_cfg


def tiny_model_cfg(context_conv=dict(type='A3DConv'), num_slices: int = 3, config: str = DEMO_CONFIG):
    """The model of ``config`` (the demo's by default) shrunk by :data:`TINY_MODEL_OPTIONS`, with the given
    operator and slice count."""
    from mmengine.config import Config

    from mmdet3dctx.apis import read_config
    cfg = Config(dict(model=copy.deepcopy(read_config(config).model)))
    cfg.merge_from_dict({f'model.{k}': v for k, v in TINY_MODEL_OPTIONS.items()})
    model = cfg.model
    model.backbone.num_slices = num_slices
    model.backbone.context_conv = dict(context_conv)
    model.neck.reduction.num_slices = num_slices
    return model


def build_model(cfg):
    """``MODELS.build(cfg)`` after seeding torch with 0, with its weights initialised."""
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def random_ct_batch(model, num_slices: int = 3, size: int = 64, batch_size: int = 2, training: bool = True,
                    input_slice_interval: Union[float, Sequence[float]] = (1.0, 5.0)) -> Tuple[torch.Tensor, list]:
    """A preprocessed batch ``(inputs (N, 1, D, H, W), data_samples)`` of random slices in [0, 255] (seeded), two
    boxes and masks per image; ``input_slice_interval`` (mm) cycles over the images when a sequence."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    intervals = [input_slice_interval] if np.isscalar(input_slice_interval) else list(input_slice_interval)
    g = torch.Generator().manual_seed(0)
    boxes = torch.tensor([[10., 12., 30., 34.], [36., 20., 56., 44.]]) * size / 64
    masks = np.zeros((2, size, size), np.uint8)
    for m, (x1, y1, x2, y2) in zip(masks, boxes.round().int().tolist()):
        m[y1:y2, x1:x2] = 1
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(torch.rand(num_slices, size, size, generator=g) * 255)
        t = float(intervals[i % len(intervals)])
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.),
                                             input_slice_interval=t, slice_interval=t))
        sample.gt_instances = InstanceData(bboxes=boxes.clone(), labels=torch.zeros(2, dtype=torch.long),
                                           masks=BitmapMasks(masks.copy(), size, size))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training)
    return data['inputs'], data['data_samples']


def train_step_and_predict(model_cfg, num_slices: int, size: int = 64):
    """Build ``model_cfg`` shrunk by :func:`shrink_detector`, run one loss and backward pass on a
    :func:`random_ct_batch` and predict on another. Returns ``(total_loss, predictions)``; the loss is finite."""
    model = build_model(shrink_detector(model_cfg))
    model.train()
    inputs, samples = random_ct_batch(model, num_slices=num_slices, size=size)
    losses = model.loss(inputs, samples)
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    if not torch.isfinite(total):
        raise AssertionError(f'a training step of {model_cfg.type} gave a non-finite loss: {losses}')
    total.backward()
    model.eval()
    inputs, samples = random_ct_batch(model, num_slices=num_slices, size=size, training=False)
    with torch.no_grad():
        return total, model.predict(inputs, samples)
