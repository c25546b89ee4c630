"""Tiny detector configs and inputs shared by the model and config tests."""
import copy

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet3dctx.apis import read_config

DEMO_CONFIG = 'configs/demo/a3d_7slice_synthetic.py'

#: The demo model (``DEMO_CONFIG``) shrunk to seconds per epoch, as ``--cfg-options`` under ``model.``.
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


def tiny_cfg_options(**extra):
    """``--cfg-options`` that shrink a demo config's model and train it one epoch (checkpoint each epoch)."""
    options = {f'model.{k}': v for k, v in TINY_MODEL_OPTIONS.items()}
    options.update({'train_cfg.max_epochs': 1, 'default_hooks.checkpoint.interval': 1})
    options.update(extra)
    return options


def tiny_cfg_argv(**extra):
    """:func:`tiny_cfg_options` as the ``--cfg-options ...`` of a command line."""
    out = []
    for k, v in tiny_cfg_options(**extra).items():
        if isinstance(v, list):
            v = '[' + ','.join(map(str, v)) + ']'
        elif isinstance(v, tuple):
            v = '(' + ','.join(map(str, v)) + ',)'
        out.append(f'{k}={v}')
    return ['--cfg-options'] + out


def tiny_model_cfg(context_conv=dict(type='A3DConv'), num_slices=3, config=DEMO_CONFIG):
    """The demo model shrunk further, for ``num_slices`` slices."""
    cfg = Config(dict(model=copy.deepcopy(read_config(config).model)))
    cfg.merge_from_dict({f'model.{k}': v for k, v in TINY_MODEL_OPTIONS.items()})
    model = cfg.model
    model.backbone.num_slices = num_slices
    model.backbone.context_conv = dict(context_conv)
    model.neck.reduction.num_slices = num_slices
    return model


def tiny_batch(model, num_slices=3, size=64, batch_size=2, training=True, input_slice_interval=(1.0, 5.0)):
    """A preprocessed batch ``(inputs (N, 1, D, H, W), data_samples)`` with two boxes and masks per sample."""
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    boxes = torch.tensor([[10., 12., 30., 34.], [36., 20., 56., 44.]]) * size / 64
    masks = np.zeros((2, size, size), np.uint8)
    for m, (x1, y1, x2, y2) in zip(masks, boxes.round().int().tolist()):
        m[y1:y2, x1:x2] = 1
    for i in range(batch_size):
        inputs.append(torch.rand(num_slices, size, size, generator=g) * 255)
        t = input_slice_interval[i % len(input_slice_interval)]
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.),
                                             input_slice_interval=t, slice_interval=t))
        sample.gt_instances = InstanceData(bboxes=boxes.clone(), labels=torch.zeros(2, dtype=torch.long),
                                           masks=BitmapMasks(masks.copy(), size, size))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training)
    return data['inputs'], data['data_samples']


def build(cfg):
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model
