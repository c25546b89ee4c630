"""FCN mask head of Mask R-CNN trained with a Dice loss, as in the A3D / AlignShift DeepLesion reference."""
from typing import List

import torch
from mmengine.config import ConfigDict
from torch import Tensor

from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig


@MODELS.register_module()
class DiceFCNMaskHead(FCNMaskHead):
    """MMDetection's :class:`FCNMaskHead` with a per-RoI Dice loss on the RoI's own class channel.

    The A3D detector ("Asymmetric 3D Context Fusion for Universal Lesion Detection", MICCAI 2021) and AlignShift
    trained the 4-conv, 256-channel mask head of their Mask R-CNN (14x14 RoIs, 28x28 targets) with a Dice loss
    instead of the per-pixel binary cross-entropy. ``FCNMaskHead.loss_and_target`` hands the loss the full
    ``(num_pos, num_classes, 28, 28)`` logits and passes the RoIs' labels in the *weight* position
    (``loss_mask(preds, targets, labels)``), which only MMDetection's ``CrossEntropyLoss(use_mask=True)``
    understands. This head selects, for each positive RoI, the channel of its ground-truth class (channel 0
    when ``class_agnostic``) and calls the loss as ``loss_mask(logits (num_pos, 28, 28), targets (num_pos, 28,
    28))``, so any MMDetection loss with the ``(pred, target, weight=None, ...)`` signature fits, in particular
    :class:`mmdet.models.losses.DiceLoss`. Layers, initialisation, ``forward``, ``get_targets`` and
    ``predict_by_feat`` are FCNMaskHead's, so checkpoints of either head load into the other. The loss keeps the
    name ``loss_mask``.

    The default loss is the reference's Dice: sigmoid of the logits ``p``, per RoI
    ``1 - (2·Σ p·t + ε) / (Σ p + Σ t + ε)`` (first powers in the denominator: ``naive_dice=True``) with
    ``ε = 0.01``, averaged over the positive RoIs, weight 1. A batch without positive RoIs gives a zero loss
    connected to the graph (as FCNMaskHead does).

    Args:
        num_convs (int): Number of 3x3 convs before the upsampling. Default: 4.
        roi_feat_size (int): Size of the RoI features (reserved, unused, as in FCNMaskHead). Default: 14.
        in_channels (int): Channels of the RoI features. Default: 256.
        conv_kernel_size (int): Kernel size of the convs. Default: 3.
        conv_out_channels (int): Channels of the convs. Default: 256.
        num_classes (int): Number of foreground classes (one output channel each unless ``class_agnostic``).
            Default: 80.
        class_agnostic (bool): Predict one mask for all classes. Default: False.
        upsample_cfg (dict): Upsampling to the target size (``scale_factor=2``: 14 -> 28).
            Default: ``dict(type='deconv', scale_factor=2)``.
        conv_cfg (dict, optional): Conv config of the convs. Default: None.
        norm_cfg (dict, optional): Norm config of the convs. Default: None.
        predictor_cfg (dict): Config of the final 1x1 conv. Default: ``dict(type='Conv')``.
        loss_mask (dict): Loss on ``(num_pos, H, W)`` logits and ``(num_pos, H, W)`` binary targets.
            Default: ``dict(type='DiceLoss', use_sigmoid=True, activate=True, naive_dice=True, eps=0.01,
            reduction='mean', loss_weight=1.0)``.
        init_cfg (dict or list[dict], optional): Must be None (FCNMaskHead initialises its own layers).
            Default: None.

    Example:
        >>> import torch
        >>> self = DiceFCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=4, num_classes=3)
        >>> mask_preds = self(torch.rand(5, 8, 14, 14))
        >>> print(tuple(mask_preds.shape))
        (5, 3, 28, 28)
        >>> loss = self.loss_by_preds(mask_preds, torch.ones(5, 28, 28), torch.tensor([0, 2, 1, 1, 0]))
        >>> print(tuple(loss.shape), 0 < float(loss) < 1)
        () True
    """

    def __init__(self,
                 num_convs: int = 4,
                 roi_feat_size: int = 14,
                 in_channels: int = 256,
                 conv_kernel_size: int = 3,
                 conv_out_channels: int = 256,
                 num_classes: int = 80,
                 class_agnostic: bool = False,
                 upsample_cfg: ConfigType = dict(type='deconv', scale_factor=2),
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 predictor_cfg: ConfigType = dict(type='Conv'),
                 loss_mask: ConfigType = dict(
                     type='DiceLoss', use_sigmoid=True, activate=True, naive_dice=True, eps=0.01,
                     reduction='mean', loss_weight=1.0),
                 init_cfg: OptMultiConfig = None) -> None:
        if loss_mask.get('use_mask', False):
            raise ValueError('DiceFCNMaskHead selects the class channel itself and passes (num_pos, H, W) '
                             'logits to its loss; a use_mask=True loss expects all classes and the labels')
        super().__init__(
            num_convs=num_convs,
            roi_feat_size=roi_feat_size,
            in_channels=in_channels,
            conv_kernel_size=conv_kernel_size,
            conv_out_channels=conv_out_channels,
            num_classes=num_classes,
            class_agnostic=class_agnostic,
            upsample_cfg=upsample_cfg,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            predictor_cfg=predictor_cfg,
            loss_mask=loss_mask,
            init_cfg=init_cfg)

    def select_class_channel(self, mask_preds: Tensor, labels: Tensor) -> Tensor:
        """Pick each RoI's mask logits: ``(num_pos, C, H, W)``, labels ``(num_pos,)`` -> ``(num_pos, H, W)``.

        Channel ``labels[i]`` of RoI ``i`` when class-specific; channel 0 when ``class_agnostic``.
        """
        if self.class_agnostic:
            return mask_preds[:, 0]
        if labels.numel() != mask_preds.size(0):
            raise ValueError(f'{mask_preds.size(0)} mask predictions but {labels.numel()} labels')
        inds = torch.arange(mask_preds.size(0), device=mask_preds.device)
        return mask_preds[inds, labels.long()]

    def loss_by_preds(self, mask_preds: Tensor, mask_targets: Tensor, labels: Tensor) -> Tensor:
        """The mask loss of positive RoIs.

        Args:
            mask_preds (Tensor): Mask logits, ``(num_pos, num_classes, H, W)`` (``num_classes`` is 1 when
                ``class_agnostic``).
            mask_targets (Tensor): Binary targets, ``(num_pos, H, W)``.
            labels (Tensor): Class of each positive RoI, ``(num_pos,)``.

        Returns:
            Tensor: The scalar loss; ``mask_preds.sum()`` (zero, in the graph) when ``num_pos == 0``.
        """
        if mask_preds.size(0) == 0:
            return mask_preds.sum()
        preds = self.select_class_channel(mask_preds, labels)
        return self.loss_mask(preds, mask_targets.to(preds.dtype))

    def loss_and_target(self, mask_preds: Tensor, sampling_results: List[SamplingResult],
                        batch_gt_instances: InstanceList, rcnn_train_cfg: ConfigDict) -> dict:
        """Compute the mask loss from the mask head's logits.

        Args:
            mask_preds (Tensor): Mask logits of the positive RoIs, ``(num_pos, num_classes, H, W)``.
            sampling_results (List[:obj:`SamplingResult`]): Assign results of all images in the batch after
                sampling.
            batch_gt_instances (list[:obj:`InstanceData`]): Ground truth of each image, with ``bboxes``,
                ``labels`` and ``masks``.
            rcnn_train_cfg (:obj:`ConfigDict`): ``train_cfg`` of RCNN (``mask_size`` gives H = W).

        Returns:
            dict: ``loss_mask`` (a dict with the scalar ``loss_mask``) and ``mask_targets``
            ``(num_pos, H, W)``, as FCNMaskHead returns them.
        """
        mask_targets = self.get_targets(
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=rcnn_train_cfg)
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        loss = dict(loss_mask=self.loss_by_preds(mask_preds, mask_targets, pos_labels))
        return dict(loss_mask=loss, mask_targets=mask_targets)
