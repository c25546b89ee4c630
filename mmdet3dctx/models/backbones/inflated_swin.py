"""MMDetection's Swin Transformer reading D grey CT slices through an inflated patch embedding."""
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch
from mmengine.model import BaseModule

from mmdet.models.backbones import SwinTransformer
from mmdet.models.backbones.swin import swin_converter
from mmdet.registry import MODELS
from mmdet3dctx.ops import inflate_patch_embedding
from ._utils import strip_prefixes

PATCH_KEY = 'patch_embed.projection.weight'


@MODELS.register_module()
class InflatedSwinTransformer(SwinTransformer):
    """Swin Transformer whose patch embedding consumes the D slices of a CT input (TransSeg-style inflation).

    The input ``(N, 1, D, H, W)`` (or ``(N, D, H, W)``) is read as D channels by a patch embedding whose 2D RGB
    kernel ``(C, 3, P, P)`` from a pretrained checkpoint is summed over RGB and inflated over the slices
    (:func:`mmdet3dctx.ops.inflate_patch_embedding`): ``inflate='center'`` puts it on the key slice, so right
    after loading the backbone equals the 2D model applied to the key slice; ``'average'`` divides it over all
    slices. Every other weight loads unchanged. Outputs are 2D maps, as ``SwinTransformer``'s.

    ``init_cfg=dict(type='Pretrained2D', checkpoint=<file or URL>)`` loads a 2D Swin checkpoint: the Swin
    authors' file (``swin_tiny_patch4_window7_224.pth``, original key names, converted by MMDetection's
    ``swin_converter``), an MMDetection / MMPretrain backbone or detector checkpoint (``backbone.`` removed); the
    RGB embedding is reduced by the initializer's ``rgb_to_grey``. ``type='Pretrained'`` is MMDetection's plain
    loading of a checkpoint of this model itself.

    Args:
        num_slices (int): D. Default: 7.
        inflate (str): ``'center'`` or ``'average'``. Default: 'center'.
        init_cfg (dict, optional): Initialization config, e.g. ``dict(type='Pretrained2D', checkpoint=...)``.
            Default: None.
        **kwargs: any argument of MMDetection's ``SwinTransformer`` except ``in_channels``.

    Example:
        >>> import torch
        >>> self = InflatedSwinTransformer(num_slices=3, embed_dims=24, depths=(1, 1, 1, 1),
        ...                                num_heads=(1, 2, 3, 4))
        >>> for out in self(torch.rand(1, 1, 3, 64, 64)):
        ...     print(tuple(out.shape))
        (1, 24, 16, 16)
        (1, 48, 8, 8)
        (1, 96, 4, 4)
        (1, 192, 2, 2)
    """

    #: keys whose RGB kernel :meth:`convert_2d_state_dict` itself reduces to grey and spreads over the slices
    rgb_inflated_keys = (PATCH_KEY, )

    def __init__(self, num_slices: int = 7, inflate: str = 'center', init_cfg=None, **kwargs) -> None:
        if 'in_channels' in kwargs:
            raise ValueError('InflatedSwinTransformer: the input channels are the slices; set num_slices instead')
        if inflate not in ('center', 'average'):
            raise ValueError(f"InflatedSwinTransformer: inflate must be 'center' or 'average', got {inflate!r}")
        self.num_slices, self.inflate = num_slices, inflate
        super().__init__(in_channels=num_slices, init_cfg=init_cfg, **kwargs)

    def convert_2d_state_dict(self, state_dict: Mapping[str, torch.Tensor],
                              rgb_to_grey: Optional[str] = 'sum') -> Tuple['OrderedDict', Dict[str, str]]:
        """A 2D Swin checkpoint in this model's names, its patch embedding reduced to grey and inflated over
        the slices (:func:`~mmdet3dctx.ops.inflate_patch_embedding`, also for D = 3).

        Original Swin keys (``layers.*``, ``patch_embed.proj``) go through MMDetection's ``swin_converter``;
        MMDetection keys (``stages.*``) are kept. The classification head is dropped. Returns the state dict and
        ``{dropped key: reason}``.
        """
        sd = strip_prefixes(state_dict)
        dropped = {k: 'classification head' for k in sd if k.startswith('head.')}
        if any(k.startswith(('layers.', 'patch_embed.proj.')) for k in sd):
            sd = strip_prefixes(swin_converter(sd))  # original Swin names; its output is under 'backbone.'
        sd = OrderedDict((k, v) for k, v in sd.items() if not k.startswith('head.'))
        w = sd.get(PATCH_KEY)
        if w is not None and w.dim() == 4 and w.shape[1] in (1, 3):
            if w.shape[1] == 3 and rgb_to_grey is None:
                dropped[PATCH_KEY] = f'RGB kernel {tuple(w.shape)} for grey slices and rgb_to_grey=None'
                del sd[PATCH_KEY]
            else:
                sd[PATCH_KEY] = inflate_patch_embedding(w, self.num_slices, self.inflate, rgb_to_grey or 'sum')
        return sd, dropped

    def init_weights(self) -> None:
        """Without an init_cfg or with ``Pretrained`` as MMDetection's ``SwinTransformer`` (random init, or its
        own loading of a checkpoint of this model); another init_cfg (``Pretrained2D``) as any ``BaseModule``."""
        cfg = self.init_cfg
        if cfg is None or (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            return super().init_weights()
        BaseModule.init_weights(self)

    def forward(self, x: torch.Tensor):
        """``(N, 1, D, H, W)`` or ``(N, D, H, W)`` -> 2D maps per stage."""
        if x.dim() == 5:
            if x.shape[1] != 1:
                raise ValueError(f'InflatedSwinTransformer expects (N, 1, D, H, W), got {tuple(x.shape)}')
            x = x[:, 0]
        if x.shape[1] != self.num_slices:
            raise ValueError(f'InflatedSwinTransformer was built for {self.num_slices} slices, got {x.shape[1]}')
        return super().forward(x)
