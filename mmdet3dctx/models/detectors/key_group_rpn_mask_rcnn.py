"""ContextMaskRCNN whose RPN sees the key group of slices alone and whose RoI head sees the fused maps (3DCE)."""
from typing import Optional, Tuple

from torch import Tensor

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmdet3dctx.ops import call_with_input_slice_interval
from .context_mask_rcnn import ContextMaskRCNN


@MODELS.register_module()
class KeyGroupRPNMaskRCNN(ContextMaskRCNN):
    """3DCE's split of the two stages: proposals from the key slices only, classification from the 3D context.

    3D context enhanced R-FCN (Yan et al., MICCAI 2018, "3D Context Enhanced Region-based Convolutional Neural
    Network for End-to-End Lesion Detection") and its published re-implementations run the RPN on the feature
    maps of the key group of 3 slices alone and give the RoI head the maps fused over all groups. With
    ``rpn_on_key_group=True`` the backbone (e.g. :class:`ThickenedResNet` with ``fusion='3dce'``) is called as
    ``backbone(x, return_key_group=True)`` and returns ``(fused, key_group)``; the neck (one module, shared
    weights) runs on each, the key group's pyramid feeds ``rpn_head`` and the fused pyramid ``roi_head``, in
    ``loss``, ``predict`` and ``_forward`` alike (those of :class:`ContextMaskRCNN`; this class only overrides
    :meth:`extract_rpn_roi_feat`). ``extract_feat`` keeps returning the fused pyramid. With
    ``rpn_on_key_group=False`` the detector is exactly :class:`ContextMaskRCNN` (both heads on the fused maps).

    Args:
        backbone (dict): Backbone config; with ``rpn_on_key_group`` its ``forward`` must take
            ``return_key_group`` and its ``with_key_group_outputs`` (which such backbones declare) must be true.
        rpn_on_key_group (bool): feed the RPN with the key group's maps. Default: True.
        rpn_head, roi_head, train_cfg, test_cfg, neck, data_preprocessor, default_input_slice_interval,
            init_cfg: as :class:`ContextMaskRCNN`.

    Example:
        >>> import torch
        >>> from mmdet.registry import MODELS
        >>> from mmdet.utils import register_all_modules
        >>> from mmdet3dctx.apis import read_config
        >>> register_all_modules()
        >>> cfg = read_config('configs/demo/3dce_r18_9slice_synthetic.py')  # from the repository root
        >>> model = MODELS.build(cfg.model).eval()
        >>> rpn_x, roi_x = model.extract_rpn_roi_feat(torch.rand(1, 1, 9, 64, 64))
        >>> print([tuple(f.shape) for f in rpn_x], [tuple(f.shape) for f in roi_x] == [tuple(f.shape) for f in rpn_x])
        [(1, 64, 16, 16), (1, 64, 8, 8), (1, 64, 4, 4), (1, 64, 2, 2)] True
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 rpn_on_key_group: bool = True,
                 default_input_slice_interval: float = 2.0,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(backbone=backbone, rpn_head=rpn_head, roi_head=roi_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, neck=neck, data_preprocessor=data_preprocessor,
                         default_input_slice_interval=default_input_slice_interval,
                         init_cfg=init_cfg)
        self.rpn_on_key_group = bool(rpn_on_key_group)
        if self.rpn_on_key_group:
            if not self.with_rpn:
                raise ValueError('KeyGroupRPNMaskRCNN: rpn_on_key_group=True needs an rpn_head')
            # a backbone with key-group outputs declares it (``with_key_group_outputs``, e.g. ThickenedResNet)
            takes = hasattr(type(self.backbone), 'with_key_group_outputs')
            if not (takes and getattr(self.backbone, 'with_key_group_outputs', False)):
                detail = (f"fusion={getattr(self.backbone, 'fusion', None)!r}" if takes else
                          'its forward has no return_key_group argument')
                raise ValueError('KeyGroupRPNMaskRCNN: rpn_on_key_group=True needs a backbone that returns the key '
                                 "group's maps (ThickenedResNet with fusion='3dce'); "
                                 f'{type(self.backbone).__name__} does not ({detail}). Set rpn_on_key_group=False.')

    def extract_rpn_roi_feat(self, batch_inputs: Tensor, input_slice_interval: Optional[Tensor] = None
                             ) -> Tuple[Tuple[Tensor, ...], Tuple[Tensor, ...]]:
        """The RPN's and the RoI head's feature pyramids.

        Args:
            batch_inputs (Tensor): ``(N, 1, D, H, W)``.
            input_slice_interval (Tensor, optional): ``(N,)`` mm between the input slices (bound to the
                backbone's operators that need it).

        Returns:
            tuple: ``(rpn_x, roi_x)``, each a tuple of ``(N, C, H/s, W/s)`` neck maps; ``rpn_x`` comes from the key
            group alone when ``rpn_on_key_group`` (else it is ``roi_x`` itself).
        """
        if not self.rpn_on_key_group:
            return super().extract_rpn_roi_feat(batch_inputs, input_slice_interval)
        fused, key = call_with_input_slice_interval(self.backbone, batch_inputs, return_key_group=True,
                                                    input_slice_interval=input_slice_interval)
        if self.with_neck:
            fused, key = self.neck(fused), self.neck(key)
        return tuple(key), tuple(fused)
