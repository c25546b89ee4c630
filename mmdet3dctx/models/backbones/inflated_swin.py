"""MMDetection's Swin Transformer reading D grey CT slices through an inflated patch embedding."""
from collections import OrderedDict

import torch
from mmengine.logging import MMLogger, print_log
from mmengine.runner.checkpoint import CheckpointLoader

from mmdet.models.backbones import SwinTransformer
from mmdet.models.backbones.swin import swin_converter
from mmdet.registry import MODELS
from mmdet3dctx.ops import inflate_patch_embedding

PATCH_KEY = 'patch_embed.projection.weight'


@MODELS.register_module()
class InflatedSwinTransformer(SwinTransformer):
    """Swin Transformer whose patch embedding consumes the D slices of a CT input (TransSeg-style inflation).

    The input ``(N, 1, D, H, W)`` (or ``(N, D, H, W)``) is read as D channels by a patch embedding whose 2D RGB
    kernel ``(C, 3, P, P)`` from a pretrained checkpoint is summed over RGB and inflated over the slices
    (:func:`mmdet3dctx.ops.inflate_patch_embedding`): ``inflate='center'`` puts it on the key slice, so right
    after loading the backbone equals the 2D model applied to the key slice; ``'average'`` divides it over all
    slices. Every other weight loads unchanged. Outputs are 2D maps, as ``SwinTransformer``'s.

    Args:
        num_slices (int): D. Default: 7.
        inflate (str): ``'center'`` or ``'average'``. Default: 'center'.
        rgb_mode (str): RGB -> grey reduction of the pretrained embedding. Default: 'sum'.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=<local .pth>)`` with a 2D Swin backbone
            or detector checkpoint (keys with or without ``backbone.``). Default: None.
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

    def __init__(self, num_slices: int = 7, inflate: str = 'center', rgb_mode: str = 'sum', init_cfg=None,
                 **kwargs) -> None:
        if 'in_channels' in kwargs:
            raise ValueError('InflatedSwinTransformer: the input channels are the slices; set num_slices instead')
        if inflate not in ('center', 'average'):
            raise ValueError(f"InflatedSwinTransformer: inflate must be 'center' or 'average', got {inflate!r}")
        self.num_slices, self.inflate, self.rgb_mode = num_slices, inflate, rgb_mode
        super().__init__(in_channels=num_slices, init_cfg=init_cfg, **kwargs)

    def _inflate(self, state_dict: dict) -> dict:
        w = state_dict.get(PATCH_KEY)
        if w is not None:  # a 2D RGB (or grey) embedding, even when D = 3: always reduced and inflated
            state_dict[PATCH_KEY] = inflate_patch_embedding(w, self.num_slices, self.inflate, self.rgb_mode)
        return state_dict

    def load_2d_state_dict(self, state_dict: dict, strict: bool = False):
        """Load a 2D Swin state dict (RGB patch embedding reduced to grey and inflated over the slices);
        returns the missing/unexpected keys. A checkpoint of this 3D model itself loads with
        ``load_state_dict`` (or ``load_from``) as usual."""
        return self.load_state_dict(self._inflate(OrderedDict(state_dict)), strict=strict)

    def init_weights(self) -> None:
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            return super().init_weights()
        logger = MMLogger.get_current_instance()
        path = self.init_cfg['checkpoint']
        ckpt = CheckpointLoader.load_checkpoint(path, logger=logger, map_location='cpu')
        sd = ckpt.get('state_dict', ckpt.get('model', ckpt))
        if self.convert_weights:
            sd = swin_converter(sd)
        if any(k.startswith('backbone.') for k in sd):
            sd = {k[9:]: v for k, v in sd.items() if k.startswith('backbone.')}
        sd = {k[7:] if k.startswith('module.') else k: v for k, v in sd.items()}
        own = self.state_dict()
        mismatched = [k for k, v in sd.items() if k in own and k != PATCH_KEY and v.shape != own[k].shape]
        for k in mismatched:  # e.g. another window size: keep the fresh tables rather than fail
            sd.pop(k)
        missing, unexpected = self.load_2d_state_dict(sd)
        if not set(sd) & set(own):
            raise RuntimeError(f'{path}: no key of the checkpoint matches InflatedSwinTransformer '
                               f'(first keys: {list(sd)[:5]})')
        print_log(f'InflatedSwinTransformer: loaded {len(set(sd) & set(own)) - len(mismatched)} tensors from {path} '
                  f'(patch embedding inflated "{self.inflate}" over {self.num_slices} slices); missing {missing}, '
                  f'unexpected {unexpected}, shape-mismatched (kept) {mismatched}', logger='current')
        self._is_init = True

    def forward(self, x: torch.Tensor):
        """``(N, 1, D, H, W)`` or ``(N, D, H, W)`` -> 2D maps per stage."""
        if x.dim() == 5:
            if x.shape[1] != 1:
                raise ValueError(f'InflatedSwinTransformer expects (N, 1, D, H, W), got {tuple(x.shape)}')
            x = x[:, 0]
        if x.shape[1] != self.num_slices:
            raise ValueError(f'InflatedSwinTransformer was built for {self.num_slices} slices, got {x.shape[1]}')
        return super().forward(x)
