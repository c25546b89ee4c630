"""2D ResNet on thickened inputs: groups of 3 slices (3DCE), early-stage multiplexing, slice-sensitive attention."""
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from .resnet3d import resnet_2d_keys
from .slice_sensitive_attention import SliceSensitiveAttention

FUSIONS = ('3dce', 'esm')


def _key_group_fusion(conv: nn.Conv2d, groups: int, channels: int) -> None:
    """Initialise a ``(C, g·C)`` 1×1 fusion to pick the key group: the fused map starts as the key group's."""
    with torch.no_grad():
        conv.weight.zero_()
        k = groups // 2
        conv.weight[:, k * channels:(k + 1) * channels, 0, 0] = torch.eye(channels)
        if conv.bias is not None:
            conv.bias.zero_()


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
    * ``ssa=True``: :class:`SliceSensitiveAttention` from the key group's pre-fusion features to each fused map
      (3DCE: every output level; ESM: the fusion point), through a highway connection.

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
        **kwargs: any argument of MMDetection's ``ResNet`` (``out_indices``, ``norm_cfg``, ``frozen_stages``,
            ``norm_eval``, ``style``, ``with_cp``, ``init_cfg``, …); ``in_channels`` is 3 (a group).

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
                 ssa_pool_size: int = 32, **kwargs) -> None:
        if num_slices < 3 or num_slices % 3:
            raise ValueError(f'ThickenedResNet: num_slices must be a multiple of 3 (groups of 3 slices), got {num_slices}')
        if fusion not in FUSIONS:
            raise ValueError(f'ThickenedResNet: fusion must be one of {FUSIONS}, got {fusion!r}')
        if kwargs.pop('in_channels', 3) != 3:
            raise ValueError('ThickenedResNet: each group of 3 slices is the 3-channel input; in_channels is 3')
        super().__init__(depth=depth, in_channels=3, **kwargs)
        self.num_slices, self.groups, self.fusion, self.with_ssa = num_slices, num_slices // 3, fusion, ssa
        widths = [self.base_channels * 2**i * self.block.expansion for i in range(len(self.res_layers))]
        g = self.groups
        levels = [0] if fusion == 'esm' else list(self.out_indices)
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
            self.ssa = nn.ModuleDict({str(i): SliceSensitiveAttention(widths[i], ssa_pool_size) for i in levels})

    def convert_2d_state_dict(self, state_dict: Mapping[str, torch.Tensor],
                              rgb_to_grey: Optional[str] = 'sum') -> Tuple[dict, Dict[str, str]]:
        """A 2D ResNet checkpoint in this backbone's names (``resnet_2d_keys``: ``fc.*`` dropped). The stem
        stays RGB (each group of 3 slices is the RGB input), so ``rgb_to_grey`` has nothing to do."""
        return resnet_2d_keys(state_dict)

    def _fuse(self, level: int, feat: torch.Tensor, n: int) -> torch.Tensor:
        """``(N·g, C, h, w)`` group maps -> ``(N, C, h, w)`` fused (+ SSA) map."""
        g = self.groups
        grouped = feat.view(n, g, *feat.shape[1:])
        if g == 1:
            fused = grouped[:, 0]
        elif self.fusion == '3dce':
            fused = self.fusion_convs[str(level)](grouped.flatten(1, 2))
        else:
            fused = self.esm_compress(grouped.flatten(1, 2))
        if self.with_ssa:
            fused = self.ssa[str(level)](grouped[:, g // 2], fused)
        return fused

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
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if self.fusion == 'esm':
                if i == 0:
                    x = self._fuse(0, x, n)
                if i in self.out_indices:
                    outs.append(x)
            elif i in self.out_indices:
                outs.append(self._fuse(i, x, n))
                if return_key_group:
                    keys.append(x.view(n, self.groups, *x.shape[1:])[:, self.groups // 2])
        if return_key_group:
            return tuple(outs), tuple(keys)
        return tuple(outs)
