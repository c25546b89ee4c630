"""``init_cfg=dict(type='Pretrained2D', ...)``: a 2D ImageNet checkpoint into a 3D-context backbone."""
import re
from collections import Counter, OrderedDict
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.model import is_model_wrapper
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from mmdet3dctx.ops import inflate_state_dict
from mmdet3dctx.ops.weight_utils import INFLATE_MODES, RGB_TO_GREY_MODES
from mmdet3dctx.utils import read_state_dict


def summarise_keys(keys: List[str], limit: int = 40) -> str:
    """Keys grouped by pattern (digits -> ``*``) with counts, e.g. ``layer*.*.conv*.weight (48)``.

    Example:
        >>> print(summarise_keys(['layer1.0.conv1.weight', 'layer1.1.conv1.weight', 'fc.bias']))
        layer*.*.conv*.weight (2), fc.bias
    """
    counts = Counter(re.sub(r'\d+', '*', k) for k in keys)
    parts = [f'{p} ({n})' if n > 1 else p for p, n in counts.items()]
    if len(parts) > limit:
        parts = parts[:limit] + [f'... {len(parts) - limit} more patterns']
    return ', '.join(parts) if parts else '-'


def summarise_skipped(skipped: Dict[str, str], limit: int = 40) -> str:
    """Skipped keys grouped by pattern and reason, e.g. ``denseblock*.denselayer*.conv*.weight (32, not in the
    model); classifier.weight (classification head)``."""
    counts = Counter((re.sub(r'\d+', '*', k), why) for k, why in skipped.items())
    parts = [f'{p} ({n}, {why})' if n > 1 else f'{p} ({why})' for (p, why), n in counts.items()]
    if len(parts) > limit:
        parts = parts[:limit] + [f'... {len(parts) - limit} more patterns']
    return '; '.join(parts) if parts else '-'


def _init_children(module: nn.Module) -> None:
    """Initialise ``module``'s children that are not yet initialised, as ``BaseModule.init_weights`` does before
    a ``Pretrained`` initializer (their own ``init_weights``, recorded in MMEngine's initialisation info).

    MMEngine defers only ``type='Pretrained'`` (``PretrainedInit`` itself) until after the children, so that the
    checkpoint has the final word; ``Pretrained2D`` runs among the other initializers and does the same here.
    """
    for child in module.children():
        if is_model_wrapper(child) and not hasattr(child, 'init_weights'):
            child = child.module
        if hasattr(child, 'init_weights') and not getattr(child, 'is_init', False):
            child.init_weights()
            if hasattr(child, '_params_init_info'):
                update_init_info(child, init_info=f'Initialized by user-defined `init_weights` in '
                                 f'{child.__class__.__name__} ')


@WEIGHT_INITIALIZERS.register_module(name='Pretrained2D')
class Pretrained2DInit(PretrainedInit):
    """Initialise a 3D-context backbone from a 2D (RGB) ImageNet checkpoint.

    MMEngine's ``PretrainedInit`` for checkpoints of the 2D network a 3D backbone is made from:
    ``init_cfg=dict(type='Pretrained2D', checkpoint=SOURCE, rgb_to_grey='sum')`` on
    :class:`~mmdet3dctx.models.DenseNet3D`, :class:`~mmdet3dctx.models.ResNet3D`,
    :class:`~mmdet3dctx.models.MP3DResNet`, :class:`~mmdet3dctx.models.ThickenedResNet` or
    :class:`~mmdet3dctx.models.InflatedSwinTransformer`. SOURCE is a local file or the URL of the published
    weights, downloaded once into torch.hub's cache (:func:`mmdet3dctx.utils.read_state_dict`; offline, the
    error names the URL and ``--cfg-options model.backbone.init_cfg.checkpoint=/path/to/file.pth``). As in
    ``PretrainedInit``, ``prefix`` selects the keys of a sub-module (``'backbone.'`` of a detector checkpoint).

    1. keys are renamed by the backbone's own ``convert_2d_state_dict(state_dict, rgb_to_grey)`` (kept beside
       each model, as timm's ``checkpoint_filter_fn``), the only selector of the key layout: torchvision's
       DenseNet-121 layout (``features.``, the old ``norm.1`` names of its published file and the current
       ``norm1``), torchvision / MMDetection ResNet layouts (``backbone.``), the Swin authors' layout
       (MMDetection's ``swin_converter``); classifiers and layers the backbone does not have are skipped. A
       module without ``convert_2d_state_dict`` gets the checkpoint's names as they are, ``module.`` and
       ``backbone.`` prefixes removed;
    2. the RGB stem kernel becomes one grey channel (``rgb_to_grey``; ``sum`` is exact for a grey image fed
       as RGB, ``green`` keeps the green kernel as the reference A3D/AlignShift code did);
    3. 2D kernels go into the context operators: they already hold a 2D ``weight`` (NoFusion, A3D, ACS, TSM,
       AlignShift, P3D's in-plane conv), I3D kernels are inflated over depth (``inflate``), and Conv3d layers
       with ``1 x k x k`` kernels (MP3D) receive the 2D kernel on their single depth tap. Operator-only
       parameters (A3D mixing matrices, P3D depth kernels) keep their own initialisation.

    For MP3D, whose P3D units add depth convs ``conv_t`` without a 2D counterpart, ``depth_init='identity'``
    starts each unit as its spatial conv (:meth:`~mmdet3dctx.models.MP3DResNet.start_depth_convs_as_spatial`).
    With such norms and ``NoFusionConv``-like per-slice layers the converted backbone reproduces the 2D network
    slice by slice (MP3D: on volumes of identical slices, since its stem max-pool spans 3 slices).

    The loaded, skipped (in the checkpoint, not used, with the reason) and missing (in the model, not loaded)
    keys are logged with the MMEngine logger, grouped by pattern; a checkpoint of which nothing loads raises a
    ``RuntimeError``. As with MMEngine's ``Pretrained``, the loaded weights have the final word: the module's
    children are initialised (their own ``init_weights``) before loading and marked initialised after it. Put it
    last in an init_cfg list, e.g. ``[dict(type='Kaiming', layer='Conv3d'), dict(type='Pretrained2D',
    checkpoint=...)]``. (MMEngine's own ``type='Pretrained'`` loads a checkpoint of the same 3D architecture as
    it is.)

    Args:
        checkpoint (str): Local path, ``https://`` URL or ``torchvision://NAME`` of the 2D checkpoint
            (torchvision state dict, the Swin authors' ``model`` entry or an MMEngine/MMDetection checkpoint with
            ``state_dict``).
        rgb_to_grey (str, optional): ``'sum'``, ``'mean'`` or ``'green'``: how a 3-channel stem becomes one
            channel; None requires matching input channels. Default: 'sum'.
        inflate (str, optional): ``'average'`` or ``'center'``: inflation of 2D kernels into full 3D (I3D)
            kernels. Default: None (each operator's own ``inflate`` setting, e.g. ``I3DConv(inflate='center')``;
            'average' for layers without one).
        prefix (str, optional): Only keys under this prefix (removed) are used, e.g. ``'backbone.'`` of a
            detector checkpoint; a missing trailing ``'.'`` is added. Default: None (``module.``/``backbone.``
            are stripped anyway).
        depth_init (str, optional): ``'identity'`` or None, for MP3D's depth convs (see above).
            Default: 'identity'.

    Example:
        >>> import tempfile, torch
        >>> from mmdet.models.backbones import ResNet
        >>> from mmdet3dctx.models import MP3DResNet
        >>> path = tempfile.mkdtemp() + '/r50.pth'
        >>> torch.save(ResNet(depth=50).state_dict(), path)  # a 2D ImageNet-style ResNet-50
        >>> model = MP3DResNet(depth=63)  # GN: BN statistics are skipped
        >>> report = Pretrained2DInit(checkpoint=path).convert(model)  # what init_weights() does, unlogged
        >>> len(report['loaded']), len(report['skipped']), len(report['missing']), report['rgb_reduced']
        (159, 159, 48, ['stem.conv.weight'])
    """

    def __init__(self,
                 checkpoint: str,
                 rgb_to_grey: Optional[str] = 'sum',
                 inflate: Optional[str] = None,
                 prefix: Optional[str] = None,
                 depth_init: Optional[str] = 'identity') -> None:
        if rgb_to_grey is not None and rgb_to_grey not in RGB_TO_GREY_MODES:
            raise ValueError(f'Pretrained2D: rgb_to_grey must be one of {RGB_TO_GREY_MODES} or None, '
                             f'got {rgb_to_grey!r}')
        if inflate is not None and inflate not in INFLATE_MODES:
            raise ValueError(f'Pretrained2D: inflate must be one of {INFLATE_MODES}, got {inflate!r}')
        if depth_init not in (None, 'identity'):
            raise ValueError(f"Pretrained2D: depth_init must be 'identity' or None, got {depth_init!r}")
        super().__init__(checkpoint, prefix=prefix, map_location='cpu')  # read_state_dict loads onto the CPU
        self.rgb_to_grey = rgb_to_grey
        self.inflate = inflate
        self.depth_init = depth_init

    def _under_prefix(self, state: dict) -> 'OrderedDict':
        """The keys under ``prefix``, without it, selected as ``PretrainedInit`` selects them (a trailing ``'.'``
        added to the prefix); an error naming the checkpoint where no key is under it."""
        prefix = self.prefix if self.prefix.endswith('.') else self.prefix + '.'
        state = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
        if not state:
            raise RuntimeError(f'Pretrained2D: prefix={self.prefix!r} matches no key of {self.checkpoint}')
        return state

    def _rename(self, module: nn.Module, state: dict):
        """``(state dict in the module's names, {dropped key: reason}, what renamed them)``: the module's
        ``convert_2d_state_dict``, or the names with the common prefixes stripped where it has none."""
        convert = getattr(module, 'convert_2d_state_dict', None)
        if convert is None:
            from mmdet3dctx.models.backbones._utils import strip_prefixes
            return strip_prefixes(state), {}, 'prefix stripping (no convert_2d_state_dict)'
        return (*convert(state, rgb_to_grey=self.rgb_to_grey), f'{type(module).__name__}.convert_2d_state_dict')

    def _inflate_by_operator(self, module: nn.Module, state: dict, target: dict) -> List[str]:
        """With ``inflate=None``, inflate the 2D kernels of operators that have an ``inflate`` setting (I3D)
        with that setting, in place in ``state``; returns their keys."""
        if self.inflate is not None:
            return []
        from mmdet3dctx.ops.weight_utils import inflate_2d_weight
        done = []
        for name, m in module.named_modules():
            mode = getattr(m, 'inflate', None)
            key = f'{name}.weight' if name else 'weight'
            if mode not in INFLATE_MODES or key not in state or key not in target:
                continue
            w, tgt = state[key], target[key]
            if w.dim() != 4 or tgt.dim() != 5:
                continue
            if w.shape[1] == 3 and tgt.shape[1] == 1 and self.rgb_to_grey is not None:
                continue  # an RGB stem: left to inflate_state_dict, which reduces it first
            if tuple(w.shape[:2]) == tuple(tgt.shape[:2]) and tuple(w.shape[2:]) == tuple(tgt.shape[3:]):
                state[key] = inflate_2d_weight(w, tgt.shape[2], mode)
                done.append(key)
        return done

    def convert(self, module: nn.Module) -> Dict[str, list]:
        """Load the checkpoint into ``module`` and return the report (``loaded``, ``inflated``,
        ``rgb_reduced``, ``skipped`` (``key: reason``), ``missing``, ``depth_init``)."""
        state = read_state_dict(self.checkpoint)
        if self.prefix:
            state = self._under_prefix(state)
        state, dropped, renamed_by = self._rename(module, state)
        dropped = dict(dropped)
        target = module.state_dict()
        if self.rgb_to_grey is None:
            for k, v in list(state.items()):
                if v.dim() >= 4 and k in target and v.shape[1] == 3 and target[k].shape[1] == 1:
                    dropped[k] = f'RGB kernel {tuple(v.shape)} for a grey input and rgb_to_grey=None'
                    del state[k]
        pre_inflated = self._inflate_by_operator(module, state, target)
        converted, rep = inflate_state_dict(state, target, inflate=self.inflate or 'average',
                                            rgb_mode=self.rgb_to_grey or 'sum')
        rep['inflated'] += [k for k in pre_inflated if k in converted]
        done_by_model = [k for k in getattr(module, 'rgb_inflated_keys', ()) if k in converted]
        rep['rgb_reduced'] += done_by_model  # e.g. Swin's patch embedding, reduced and inflated by the model
        rep['inflated'] += done_by_model
        skipped = {k: why for k, why in dropped.items()}
        skipped.update({k: 'not in the model' for k in rep['unexpected']})
        for item in rep['shape_mismatch']:
            key, shapes = item.split(': ', 1)
            skipped[key] = f'shape {shapes}'
        if not converted:
            src = ', '.join(list(state)[:5]) or '-'
            dst = ', '.join(list(target)[:5])
            raise RuntimeError(f'Pretrained2D: no key of {self.checkpoint} matches {type(module).__name__} '
                               f'(keys renamed by {renamed_by}); checkpoint keys after renaming: {src}, ...; '
                               f'model keys: {dst}, ...')
        incompatible = module.load_state_dict(converted, strict=False)
        if incompatible.unexpected_keys:  # cannot happen: every converted key is a model key
            raise RuntimeError(f'Pretrained2D: unexpected keys {incompatible.unexpected_keys}')
        report = dict(loaded=list(converted), inflated=rep['inflated'], rgb_reduced=rep['rgb_reduced'],
                      skipped=skipped, missing=rep['missing'], depth_init=[])
        if self.depth_init == 'identity' and hasattr(module, 'start_depth_convs_as_spatial'):
            report['depth_init'] = module.start_depth_convs_as_spatial()
        return report

    def __call__(self, module: nn.Module) -> None:
        _init_children(module)
        report = self.convert(module)
        for child in module.children():
            if hasattr(child, 'init_weights'):
                child.is_init = True
        module.pretrained_2d_report = report
        logger = MMLogger.get_current_instance()
        name = type(module).__name__
        lines = [
            f'Pretrained2D: {name} <- {self.checkpoint}: {len(report["loaded"])} tensors loaded '
            f'({len(report["inflated"])} inflated over depth, {len(report["rgb_reduced"])} RGB->grey '
            f'by {self.rgb_to_grey!r}), {len(report["skipped"])} checkpoint keys skipped, '
            f'{len(report["missing"])} model keys missing',
            f'  loaded: {summarise_keys(report["loaded"])}',
            f'  inflated: {summarise_keys(report["inflated"])}',
            f'  RGB->grey: {summarise_keys(report["rgb_reduced"])}',
            f'  skipped: {summarise_skipped(report["skipped"])}',
            f'  missing (own initialisation kept): {summarise_keys(report["missing"])}',
        ]
        if report['depth_init']:
            lines.append(f'  depth convs set to start as their spatial conv: {summarise_keys(report["depth_init"])}')
        print_log('\n'.join(lines), logger=logger)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
