"""The backbone and detector rows of ``tools/gpu_check.py``: the DenseNet3D backbone with every operator, and one
training iteration and one test pass of a detector config on random inputs (images/s, peak memory).

The torch-only rows are in :mod:`mmdet3dctx.ops.gpu_check`; these need MMDetection (the backbone) and MMCV's
compiled ops (the detector). Each ``*_unavailable`` function says why its rows cannot run, or returns None.
"""
import contextlib
import importlib
import logging
from typing import Callable, Dict, Optional, Sequence

import torch

from mmdet3dctx.ops.gpu_check import autocast_context, peak_memory, time_once


def backbone_unavailable() -> Optional[str]:
    """None when ``DenseNet3D`` imports, else the reason."""
    try:
        importlib.import_module('mmdet3dctx.models.backbones.densenet3d')
    except Exception as e:  # missing MMDetection or MMCV, or one built without what they need
        return f'DenseNet3D does not import ({type(e).__name__}: {e})'
    return None


def detector_unavailable() -> Optional[str]:
    """None when MMCV's compiled ops (NMS, RoIAlign) and the detectors import, else the reason."""
    try:
        from mmcv.ops import RoIAlign, nms  # noqa: F401
        importlib.import_module('mmdet3dctx.models.detectors')
    except Exception as e:
        return f"MMCV's compiled ops or the detectors do not import ({type(e).__name__}: {e})"
    return None


def build_backbone(context_conv: str, num_slices: int, block_config: Sequence[int] = (6, 12, 24)):
    """The A3D paper's DenseNet3D (truncated DenseNet-121) with ``context_conv`` in every dense layer."""
    from mmdet3dctx.models.backbones.densenet3d import DenseNet3D
    model = DenseNet3D(num_slices=num_slices, context_conv=dict(type=context_conv), block_config=tuple(block_config))
    with _quiet_mmengine():
        model.init_weights()
    return model.train()


def backbone_steps(shape: Sequence[int], device, precision: str, names: Sequence[str],
                   block_config: Sequence[int] = (6, 12, 24)) -> Dict[str, Callable[[], None]]:
    """One forward+backward of the backbone per operator on an ``(N, 1, D, H, W)`` input."""
    device = torch.device(device)
    torch.manual_seed(0)
    x = torch.randn(*shape, device=device)
    input_slice_interval = torch.full((shape[0], ), 5.0, device=device)
    steps = {}
    for name in names:
        model = build_backbone(name, shape[2], block_config).to(device)

        def step(model=model):
            with autocast_context(device, precision):
                outs = model(x, input_slice_interval) if model.with_input_slice_interval else model(x)
            sum(o.float().mean() for o in outs).backward()

        steps[name] = step
    return steps


@contextlib.contextmanager
def _quiet_mmengine():
    """MMEngine's logger at WARNING within the block (``init_weights`` logs every parameter at INFO)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def shrink_detector(model_cfg) -> None:
    """Make a DenseNet3D detector config tiny in place (``--quick`` on a CPU): one layer per dense block, growth
    8, 32-channel neck and heads. The pipeline of modules stays that of the config."""
    bb = model_cfg.backbone
    bb.block_config, bb.growth_rate, bb.num_init_features = (1, 1, 1), 8, 16
    channels, outs = bb.num_init_features, []
    for i, n in enumerate(bb.block_config):  # DenseNet3D: a transition halves the channels before each block
        channels = channels // 2 if i else channels
        channels += n * bb.growth_rate
        outs.append(channels)
    model_cfg.neck.neck.in_channels = [outs[i] for i in bb.get('out_indices', (0, 1, 2))]
    model_cfg.neck.neck.out_channels = 32
    model_cfg.rpn_head.in_channels = model_cfg.rpn_head.feat_channels = 32
    for key in ('bbox_roi_extractor', 'mask_roi_extractor'):
        if key in model_cfg.roi_head:
            model_cfg.roi_head[key].out_channels = 32
    model_cfg.roi_head.bbox_head.in_channels = model_cfg.roi_head.bbox_head.fc_out_channels = 32
    if 'mask_head' in model_cfg.roi_head:
        model_cfg.roi_head.mask_head.in_channels, model_cfg.roi_head.mask_head.conv_out_channels = 32, 8


def build_detector(config: str, device, tiny: bool = False):
    """The config's model with its pretrained initialisation switched off (nothing is downloaded); ``tiny``:
    shrunk by :func:`shrink_detector`."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    import mmdet3dctx  # noqa: F401  (registers the plugins)
    from mmdet3dctx.apis import read_config
    register_all_modules(init_default_scope=True)
    cfg = read_config(config)
    cfg.model.backbone.init_cfg = None
    if tiny:
        shrink_detector(cfg.model)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with _quiet_mmengine():
        model.init_weights()
    return model.to(device), cfg.model.backbone.num_slices


def random_batch(model, num_slices: int, size: int, batch_size: int, training: bool, input_slice_interval: float = 2.0):
    """A preprocessed batch of random CT-like inputs ``(N, 1, D, size, size)`` with two boxes and masks each."""
    import numpy as np
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    g = torch.Generator().manual_seed(0)
    boxes = torch.tensor([[0.15, 0.2, 0.45, 0.5], [0.55, 0.3, 0.85, 0.7]]) * size
    masks = np.zeros((2, size, size), np.uint8)
    for m, (x1, y1, x2, y2) in zip(masks, boxes.round().int().tolist()):
        m[y1:y2, x1:x2] = 1
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.rand(num_slices, size, size, generator=g) * 255)
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.),
                                             input_slice_interval=input_slice_interval,
                                             slice_interval=input_slice_interval))
        sample.gt_instances = InstanceData(bboxes=boxes.clone(), labels=torch.zeros(2, dtype=torch.long),
                                           masks=BitmapMasks(masks.copy(), size, size))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training)
    return data['inputs'], data['data_samples']


def detector_iteration(config: str, device, precision: str, size: int = 512, batch_size: int = 2,
                       tiny: bool = False, warmup: int = 1) -> Dict:
    """One training iteration (loss, backward, SGD step) and one test pass of ``config``'s model on random
    ``size × size`` inputs, each after ``warmup`` untimed calls (``tiny``: the model shrunk, for a quick smoke run).

    Returns:
        dict: ``train_ips``/``test_ips`` (images/s), ``train_peak_mib``/``test_peak_mib`` (None on the CPU).
    """
    device = torch.device(device)
    model, num_slices = build_detector(config, device, tiny)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    train_batch = random_batch(model, num_slices, size, batch_size, training=True)
    test_batch = random_batch(model, num_slices, size, batch_size, training=False)

    def train_step():
        model.train()
        optimizer.zero_grad()
        with autocast_context(device, precision):
            losses = model.loss(*train_batch)
        loss, _ = model.parse_losses(losses)
        loss.backward()
        optimizer.step()

    def test_step():
        model.eval()
        with torch.no_grad(), autocast_context(device, precision):
            model.predict(*test_batch)

    out = {}
    for key, fn in (('train', train_step), ('test', test_step)):
        for _ in range(warmup):
            fn()
        out[f'{key}_ips'] = batch_size / time_once(fn, device)
        peak = peak_memory(fn, device)
        out[f'{key}_peak_mib'] = None if peak is None else peak / 2**20
    return out
