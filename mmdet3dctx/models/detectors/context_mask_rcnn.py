"""Mask R-CNN over a 3D-context backbone, passing each sample's slice interval to the backbone."""
import copy
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmdet3dctx.ops import call_with_input_slice_interval
from mmdet3dctx.utils import check_config_resolved


@MODELS.register_module()
class ContextMaskRCNN(MaskRCNN):
    """Mask R-CNN for ``(N, 1, D, H, W)`` CT inputs whose backbone may need the slice interval (AlignShift).

    Identical to :class:`mmdet.models.MaskRCNN` except that ``extract_feat`` takes ``input_slice_interval``, the
    mm between the input slices of each sample, read from the data samples' metainfo key of that name (set by
    the loaders, packed by ``PackCTInputs``), and calls the backbone through
    :func:`~mmdet3dctx.ops.call_with_input_slice_interval`, which binds it to the backbone's operators that need it
    (AlignShift) for that call; any backbone works, with or without such operators. Missing or non-finite
    intervals (a repeated key slice) take ``default_input_slice_interval``. No global state: the binding is scoped
    to the call. ``_forward``, ``loss`` and ``predict`` feed the RPN and the RoI head from
    :meth:`extract_rpn_roi_feat`, the method subclasses override to give the two stages different maps. Mixed
    precision is the runner's (``CPUAutocastOptimWrapper``, ``Float32HeadsHook``), not the detector's.

    Args:
        backbone (dict): Backbone config (e.g. :class:`DenseNet3D`).
        rpn_head, roi_head, train_cfg, test_cfg, neck, data_preprocessor: as ``MaskRCNN``.
        default_input_slice_interval (float): Interval (mm) used when a sample has none. Default: 2.0.
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
                 default_input_slice_interval: float = 2.0,
                 init_cfg: OptMultiConfig = None) -> None:
        check_config_resolved(dict(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                                   train_cfg=train_cfg, test_cfg=test_cfg, data_preprocessor=data_preprocessor),
                              type(self).__name__)
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not default_input_slice_interval > 0:
            raise ValueError('ContextMaskRCNN: default_input_slice_interval must be positive, '
                             f'got {default_input_slice_interval}')
        self.default_input_slice_interval = float(default_input_slice_interval)

    def get_input_slice_interval(self, batch_data_samples: Optional[SampleList], device=None) -> Optional[Tensor]:
        """``(N,)`` slice intervals (mm) from the data samples, or None without data samples."""
        if not batch_data_samples:
            return None
        values = []
        for sample in batch_data_samples:
            value = sample.metainfo.get('input_slice_interval')
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            values.append(value if math.isfinite(value) and value > 0 else self.default_input_slice_interval)
        return torch.tensor(values, dtype=torch.float32, device=device)

    def extract_feat(self, batch_inputs: Tensor,
                     input_slice_interval: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Backbone (with the input slice interval bound to its operators that need it) then neck.

        Args:
            batch_inputs (Tensor): ``(N, 1, D, H, W)``.
            input_slice_interval (Tensor, optional): ``(N,)`` mm between the input slices.

        Returns:
            tuple[Tensor]: 2D feature maps of the neck.
        """
        x = call_with_input_slice_interval(self.backbone, batch_inputs, input_slice_interval=input_slice_interval)
        if self.with_neck:
            x = self.neck(x)
        return x

    def extract_rpn_roi_feat(self, batch_inputs: Tensor, input_slice_interval: Optional[Tensor] = None
                             ) -> Tuple[Tuple[Tensor, ...], Tuple[Tensor, ...]]:
        """The RPN's and the RoI head's feature pyramids: here both are :meth:`extract_feat`'s (subclasses such as
        :class:`KeyGroupRPNMaskRCNN` give the RPN other maps).

        Args:
            batch_inputs (Tensor): ``(N, 1, D, H, W)``.
            input_slice_interval (Tensor, optional): ``(N,)`` mm between the input slices.

        Returns:
            tuple: ``(rpn_x, roi_x)``, each a tuple of ``(N, C, H/s, W/s)`` neck maps.
        """
        x = self.extract_feat(batch_inputs, input_slice_interval)
        return x, x

    def _rpn_roi_feats(self, batch_inputs: Tensor, batch_data_samples: Optional[SampleList]):
        interval = self.get_input_slice_interval(batch_data_samples, batch_inputs.device)
        return self.extract_rpn_roi_feat(batch_inputs, interval)

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
