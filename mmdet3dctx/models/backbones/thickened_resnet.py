"""2D ResNet on thickened inputs: groups of 3 slices (3DCE), early-stage multiplexing, slice-sensitive attention."""
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from ..layers import SliceSensitiveAttention
from .resnet3d import resnet_2d_keys

FUSIONS = ('3dce', 'esm')


def _key_group_fusion(conv: nn.Conv2d, groups: int, channels: int) -> None:
    """Initialise a ``(C, g·C)`` 1×1 fusion to pick the key group: the fused map starts as the key group's."""
    with torch.no_grad():
        conv.weight.zero_()
        k = groups // 2
        conv.weight[:, k * channels:(k + 1) * channels, 0, 0] = torch.eye(channels)
        if conv.bias is not None:
            conv.bias.zero_()


def _has_checkpoint(init_cfg) -> bool:
    """Whether an ``init_cfg`` (dict or list of dicts) loads weights from a checkpoint."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(isinstance(c, dict) and bool(c.get('checkpoint')) for c in cfgs)


@MODELS.register_module()
class ThickenedResNet(ResNet):
    """MMDetection's 2D ResNet fed with D CT slices as groups of 3 consecutive slices ("thickened" inputs).

    The input ``(N, 1, D, H, W)`` with ``D = 3g`` (3, 9, 15, …) is cut into g groups of 3 slices, each read as
    an RGB image by the shared 2D network (parameter names are ``ResNet``'s, so ImageNet/COCO ResNet checkpoints
    load with ``init_cfg=dict(type='Pretrained2D', checkpoint=<file or URL>)``, the RGB stem kept as it is; the
    fusion layers keep their key-group initialisation).

    * ``fusion='3dce'`` (3D context enhanced, Yan et al. 2018): every group runs through the whole network;
      per output level the g feature maps are concatenated on channels and fused by a 1×1 convolution
      (initialised to pick the key group, so the backbone starts as the 2D network on the key group).
    * ``fusion='esm'`` (early-stage multiplexing): only the stem and the first stage run per group; their maps
      are concatenated and compressed by two convolutions (to half the channels, then to the stage's width),
      and the remaining stages run once. With one group it is exactly the plain network.
    * ``ssa=True``: :class:`~mmdet3dctx.models.layers.SliceSensitiveAttention` from the key group's pre-fusion
      features to the outputs, through a highway connection. ESM (as the thickened-2D paper describes): from the
      key group's first-stage map, before fusion, to the output of each later stage in ``out_indices`` (not at
      the fusion point; the attended maps are outputs, the next stage reads the plain one). 3DCE, where every
      output level is a fusion of the groups' maps at that level: from the key group's map of the same level.

    The published 3DCE feeds the RPN with the key group alone: ``forward(x, return_key_group=True)`` (3DCE only)
    also returns the key group's own maps at the same levels, which
    :class:`~mmdet3dctx.models.detectors.KeyGroupRPNMaskRCNN` routes to the RPN while the fused maps feed the RoI
    head. Called plainly, the fused maps are the only output (any MMDetection detector works).

    Args:
        depth (int): 18, 34, 50, 101, 152.
        num_slices (int): D, a multiple of 3. Default: 9.
        fusion (str): ``'3dce'`` or ``'esm'``. Default: '3dce'.
        ssa (bool): add slice-sensitive attention. Default: False.
        ssa_pool_size (int): pooled side of the attention's affinity. Default: 32.
        norm_eval (bool): Keep BatchNorm in eval mode (frozen statistics) while training. Only together with
            pretrained weights (``init_cfg`` with a ``checkpoint``): without them the frozen statistics would be
            mean 0 / variance 1, so it is refused. Default: False.
        **kwargs: any argument of MMDetection's ``ResNet`` (``out_indices``, ``norm_cfg``, ``frozen_stages``,
            ``style``, ``with_cp``, ``init_cfg``, …); ``in_channels`` is 3 (a group).

    Example:
        >>> import torch
        >>> self = ThickenedResNet(depth=18, num_slices=9, fusion='esm', ssa=True)
        >>> for out in self(torch.rand(1, 1, 9, 64, 64)):
        ...     print(tuple(out.shape))
        (1, 64, 16, 16)
        (1, 128, 8, 8)
        (1, 256, 4, 4)
        (1, 512, 2, 2)
        >>> self = ThickenedResNet(depth=18, num_slices=9, fusion='3dce', out_indices=(2, 3))
        >>> fused, key = self(torch.rand(1, 1, 9, 64, 64), return_key_group=True)
        >>> print([tuple(f.shape) for f in fused], [tuple(k.shape) for k in key])
        [(1, 256, 4, 4), (1, 512, 2, 2)] [(1, 256, 4, 4), (1, 512, 2, 2)]
    """

    def __init__(self, depth: int, num_slices: int = 9, fusion: str = '3dce', ssa: bool = False,
                 ssa_pool_size: int = 32, norm_eval: bool = False, **kwargs) -> None:
        if num_slices < 3 or num_slices % 3:
            raise ValueError('ThickenedResNet: num_slices must be a multiple of 3 (groups of 3 slices), '
                             f'got {num_slices}')
        if fusion not in FUSIONS:
            raise ValueError(f'ThickenedResNet: fusion must be one of {FUSIONS}, got {fusion!r}')
        if kwargs.pop('in_channels', 3) != 3:
            raise ValueError('ThickenedResNet: each group of 3 slices is the 3-channel input; in_channels is 3')
        super().__init__(depth=depth, in_channels=3, norm_eval=norm_eval, **kwargs)
        if norm_eval and not _has_checkpoint(self.init_cfg):
            raise ValueError(
                'ThickenedResNet: model.backbone.norm_eval=True freezes BatchNorm statistics, and without pretrained '
                'weights they stay at mean 0 / variance 1. Set model.backbone.init_cfg='
                "dict(type='Pretrained2D', checkpoint=...) (model.backbone.init_cfg.checkpoint) or "
                'model.backbone.norm_eval=False.')
        self.num_slices, self.groups, self.fusion, self.with_ssa = num_slices, num_slices // 3, fusion, ssa
        widths = [self.base_channels * 2**i * self.block.expansion for i in range(len(self.res_layers))]
        g = self.groups
        levels = [0] if fusion == 'esm' else list(self.out_indices)  # where the groups' maps are fused
        if g > 1:
            if fusion == '3dce':
                self.fusion_convs = nn.ModuleDict()
                for i in levels:
                    conv = nn.Conv2d(g * widths[i], widths[i], 1)
                    _key_group_fusion(conv, g, widths[i])
                    self.fusion_convs[str(i)] = conv
            else:
                c = widths[0]
                self.esm_compress = nn.Sequential(
                    ConvModule(g * c, g * c // 2, 1, norm_cfg=self.norm_cfg),
                    ConvModule(g * c // 2, c, 3, padding=1, norm_cfg=self.norm_cfg))
        if ssa:
            if fusion == 'esm':  # the key group's pre-fusion first-stage map -> the later stages' outputs
                self.ssa = nn.ModuleDict({str(i): SliceSensitiveAttention(widths[i], ssa_pool_size, widths[0])
                                          for i in self.out_indices if i > 0})
            else:
                self.ssa = nn.ModuleDict({str(i): SliceSensitiveAttention(widths[i], ssa_pool_size) for i in levels})

    def convert_2d_state_dict(self, state_dict: Mapping[str, torch.Tensor],
                              rgb_to_grey: Optional[str] = 'sum') -> Tuple[dict, Dict[str, str]]:
        """A 2D ResNet checkpoint in this backbone's names (``resnet_2d_keys``: ``fc.*`` dropped). The stem
        stays RGB (each group of 3 slices is the RGB input), so ``rgb_to_grey`` has nothing to do."""
        return resnet_2d_keys(state_dict)

    def _fuse(self, level: int, feat: torch.Tensor, n: int) -> torch.Tensor:
        """``(N·g, C, h, w)`` group maps -> ``(N, C, h, w)`` fused map."""
        g = self.groups
        grouped = feat.view(n, g, *feat.shape[1:])
        if g == 1:
            return grouped[:, 0]
        if self.fusion == '3dce':
            return self.fusion_convs[str(level)](grouped.flatten(1, 2))
        return self.esm_compress(grouped.flatten(1, 2))

    def _key_group(self, feat: torch.Tensor, n: int) -> torch.Tensor:
        """The key (middle) group's map ``(N, C, h, w)`` out of ``(N·g, C, h, w)`` group maps."""
        return feat.view(n, self.groups, *feat.shape[1:])[:, self.groups // 2]

    @property
    def with_key_group_outputs(self) -> bool:
        """Whether ``forward(x, return_key_group=True)`` is available: 3DCE runs every group through every
        stage; ESM runs the stages after the first once, on the fused map, so it has no key-group maps there."""
        return self.fusion == '3dce'

    def forward(self, x: torch.Tensor, return_key_group: bool = False
                ) -> Union[Sequence[torch.Tensor], Tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]]]:
        """Fused 2D maps at the ``out_indices`` stages (and, on request, the key group's own maps).

        Args:
            x (Tensor): ``(N, 1, D, H, W)`` with D = ``num_slices``.
            return_key_group (bool): 3DCE only: also return the key (middle) group's pre-fusion maps, which are
                the shared 2D network's output on slices ``3·(g//2) … 3·(g//2)+2`` alone. Default: False.

        Returns:
            tuple[Tensor]: fused maps ``(N, C_i, H/s_i, W/s_i)`` per out index; with ``return_key_group`` the pair
            ``(fused, key_group)`` of two such tuples with equal shapes.
        """
        if x.dim() != 5 or x.shape[1] != 1 or x.shape[2] != self.num_slices:
            raise ValueError(f'ThickenedResNet expects (N, 1, {self.num_slices}, H, W), got {tuple(x.shape)}')
        if return_key_group and not self.with_key_group_outputs:
            raise ValueError(f'ThickenedResNet: return_key_group needs fusion=\'3dce\' (with {self.fusion!r} the '
                             'stages after the first run once on the fused map: there are no key-group maps)')
        n = x.shape[0]
        x = x.view(n * self.groups, 3, *x.shape[3:])
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs, keys = [], []
        pre_fusion_key = None
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if self.fusion == 'esm':
                if i == 0:
                    pre_fusion_key = self._key_group(x, n)
                    x = self._fuse(0, x, n)
                if i in self.out_indices:
                    out = x
                    if self.with_ssa and str(i) in self.ssa:
                        out = self.ssa[str(i)](pre_fusion_key, x)
                    outs.append(out)
            elif i in self.out_indices:
                key = self._key_group(x, n)
                fused = self._fuse(i, x, n)
                if self.with_ssa:
                    fused = self.ssa[str(i)](key, fused)
                outs.append(fused)
                if return_key_group:
                    keys.append(key)
        if return_key_group:
            return tuple(outs), tuple(keys)
        return tuple(outs)
