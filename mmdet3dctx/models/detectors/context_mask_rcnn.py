"""Mask R-CNN over a 3D-context backbone, passing each sample's slice interval to the backbone."""
import copy
import inspect
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig


@MODELS.register_module()
class ContextMaskRCNN(MaskRCNN):
    """Mask R-CNN for ``(N, 1, D, H, W)`` CT inputs whose backbone may need the slice thickness.

    Identical to :class:`mmdet.models.MaskRCNN` except that ``extract_feat`` takes the per-sample slice
    interval in mm, read from each data sample's metainfo (``thickness_key``, falling back to
    ``slice_interval``) and handed to the backbone explicitly as ``backbone(x, thickness=...)`` when its
    ``forward`` accepts it (thickness-aware operators such as AlignShift). Missing or non-finite intervals (a
    repeated key slice) take ``default_thickness``. No global state: the value travels with the call.
    ``_forward``, ``loss`` and ``predict`` feed the RPN and the RoI head from :meth:`extract_rpn_roi_feat`, the one
    method subclasses override to give the two stages different maps. Mixed precision is the runner's
    (``CPUAutocastOptimWrapper``, ``Float32HeadsHook``), not the detector's.

    Args:
        backbone (dict): Backbone config (e.g. :class:`DenseNet3D`).
        rpn_head, roi_head, train_cfg, test_cfg, neck, data_preprocessor: as ``MaskRCNN``.
        thickness_key (str): Metainfo key of the interval between the stacked slices. The loader
            ``LoadDeepLesionSlices`` sets ``input_slice_interval``; add it to ``PackDetInputs.meta_keys``.
            Default: 'input_slice_interval'.
        default_thickness (float): Interval used when a sample has none. Default: 2.0.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 thickness_key: str = 'input_slice_interval',
                 default_thickness: float = 2.0,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not default_thickness > 0:
            raise ValueError(f'ContextMaskRCNN: default_thickness must be positive, got {default_thickness}')
        self.thickness_key = thickness_key
        self.default_thickness = float(default_thickness)
        self.backbone_takes_thickness = 'thickness' in inspect.signature(self.backbone.forward).parameters

    def get_thickness(self, batch_data_samples: Optional[SampleList], device=None) -> Optional[Tensor]:
        """``(N,)`` slice intervals (mm) from the data samples, or None without data samples."""
        if not batch_data_samples:
            return None
        values = []
        for sample in batch_data_samples:
            value = sample.metainfo.get(self.thickness_key, sample.metainfo.get('slice_interval'))
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            values.append(value if math.isfinite(value) and value > 0 else self.default_thickness)
        return torch.tensor(values, dtype=torch.float32, device=device)

    def extract_feat(self, batch_inputs: Tensor, thickness: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Backbone (with the slice thickness when it takes one) then neck.

        Args:
            batch_inputs (Tensor): ``(N, 1, D, H, W)``.
            thickness (Tensor, optional): ``(N,)`` slice intervals in mm.

        Returns:
            tuple[Tensor]: 2D feature maps of the neck.
        """
        if self.backbone_takes_thickness:
            x = self.backbone(batch_inputs, thickness=thickness)
        else:
            x = self.backbone(batch_inputs)
        if self.with_neck:
            x = self.neck(x)
        return x

    def extract_rpn_roi_feat(self, batch_inputs: Tensor, thickness: Optional[Tensor] = None
                             ) -> Tuple[Tuple[Tensor, ...], Tuple[Tensor, ...]]:
        """The RPN's and the RoI head's feature pyramids: here both are :meth:`extract_feat`'s (subclasses such as
        :class:`KeyGroupRPNMaskRCNN` give the RPN other maps).

        Args:
            batch_inputs (Tensor): ``(N, 1, D, H, W)``.
            thickness (Tensor, optional): ``(N,)`` slice intervals in mm.

        Returns:
            tuple: ``(rpn_x, roi_x)``, each a tuple of ``(N, C, H/s, W/s)`` neck maps.
        """
        x = self.extract_feat(batch_inputs, thickness)
        return x, x

    def _rpn_roi_feats(self, batch_inputs: Tensor, batch_data_samples: Optional[SampleList]):
        return self.extract_rpn_roi_feat(batch_inputs, self.get_thickness(batch_data_samples, batch_inputs.device))

    def _rpn_results(self, rpn_x: Tuple[Tensor, ...], batch_data_samples: SampleList) -> list:
        if self.with_rpn:
            return self.rpn_head.predict(rpn_x, batch_data_samples, rescale=False)
        return [data_sample.proposals for data_sample in batch_data_samples]

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> tuple:
        """Network forward without post-processing (as ``TwoStageDetector._forward``)."""
        rpn_x, x = self._rpn_roi_feats(batch_inputs, batch_data_samples)
        rpn_results_list = self._rpn_results(rpn_x, batch_data_samples)
        return (self.roi_head.forward(x, rpn_results_list, batch_data_samples), )

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """Losses of the RPN (on the RPN's maps) and the RoI head (as ``TwoStageDetector.loss``)."""
        rpn_x, x = self._rpn_roi_feats(batch_inputs, batch_data_samples)
        losses = dict()
        if self.with_rpn:
            proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
            rpn_data_samples = copy.deepcopy(batch_data_samples)
            for data_sample in rpn_data_samples:
                data_sample.gt_instances.labels = torch.zeros_like(data_sample.gt_instances.labels)
            rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(
                rpn_x, rpn_data_samples, proposal_cfg=proposal_cfg)
            for key in list(rpn_losses.keys()):
                if 'loss' in key and 'rpn' not in key:
                    rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
            losses.update(rpn_losses)
        else:
            rpn_results_list = [data_sample.proposals for data_sample in batch_data_samples]
        losses.update(self.roi_head.loss(x, rpn_results_list, batch_data_samples))
        return losses

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True) -> SampleList:
        """Detections (and masks) per sample (as ``TwoStageDetector.predict``)."""
        rpn_x, x = self._rpn_roi_feats(batch_inputs, batch_data_samples)
        rpn_results_list = self._rpn_results(rpn_x, batch_data_samples)
        results_list = self.roi_head.predict(x, rpn_results_list, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results_list)
