"""Batching of multi-slice CT inputs into ``(N, 1, D, H, W)`` volumes."""
from typing import Sequence, Union

from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS


@MODELS.register_module()
class VolumeDataPreprocessor(DetDataPreprocessor):
    """Batch ``(D, H, W)`` slice stacks into grey volumes ``(N, 1, D, H, W)``.

    ``PackCTInputs`` turns the ``(H, W, D)`` image of the loading pipeline into a ``(D, H, W)`` tensor; this
    preprocessor casts it to float, normalises it with a single ``mean``/``std`` for all slices, pads H and W
    to a multiple of ``pad_size_divisor`` (bottom/right, ``pad_value``), stacks the batch and adds the
    singleton channel axis after padding (MMDetection's padding acts on every non-batch axis of a 4-D
    input). Masks and metainfo (``batch_input_shape``, ``pad_shape``) are handled as by
    :class:`mmdet.models.data_preprocessors.DetDataPreprocessor`.

    Args:
        mean (Sequence[float]): One value subtracted from every slice. Default: (0., ).
        std (Sequence[float]): One value dividing every slice. Default: (1., ).
        pad_size_divisor (int): H and W are padded to a multiple of it. Default: 32.
        pad_value (float): Padding value (after normalisation). Default: 0.
        pad_mask (bool): Pad instance masks to the batch shape. Default: False.
        **kwargs: Other arguments of ``DetDataPreprocessor`` (``batch_augments``, ``boxtype2tensor``, ...).

    Example:
        >>> import torch
        >>> pre = VolumeDataPreprocessor(mean=[50.], std=[50.])
        >>> data = dict(inputs=[torch.rand(7, 60, 70), torch.rand(7, 64, 50)])
        >>> print(tuple(pre(data)['inputs'].shape))
        (2, 1, 7, 64, 96)
    """

    def __init__(self,
                 mean: Sequence[Union[float, int]] = (0., ),
                 std: Sequence[Union[float, int]] = (1., ),
                 pad_size_divisor: int = 32,
                 pad_value: Union[float, int] = 0,
                 pad_mask: bool = False,
                 **kwargs) -> None:
        if mean is not None and len(mean) != 1 or std is not None and len(std) != 1:
            raise ValueError('VolumeDataPreprocessor: mean and std take one value each for all slices, got '
                             f'mean={mean}, std={std}')
        for key in ('bgr_to_rgb', 'rgb_to_bgr'):
            if kwargs.get(key):
                raise ValueError(f'VolumeDataPreprocessor: {key}=True makes no sense for CT slices')
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor, pad_value=pad_value,
                         pad_mask=pad_mask, **kwargs)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise, pad and stack; returns ``inputs`` of shape ``(N, 1, D, H, W)``.

        Args:
            data (dict): ``inputs`` (list of ``(D, H, W)`` tensors) and ``data_samples``.
            training (bool): Whether in training mode (batch augments).

        Returns:
            dict: ``inputs`` ``(N, 1, D, H', W')`` and ``data_samples``.
        """
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            for i, x in enumerate(inputs):
                if x.dim() != 3:
                    raise ValueError(f'VolumeDataPreprocessor expects (D, H, W) inputs (an (H, W, D) image '
                                     f'packed by PackCTInputs), got sample {i} of shape {tuple(x.shape)}')
            depths = {x.shape[0] for x in inputs}
            if len(depths) > 1:
                raise ValueError(f'VolumeDataPreprocessor: samples of one batch have different numbers of '
                                 f'slices {sorted(depths)}')
        data = super().forward(data, training)
        data['inputs'] = data['inputs'].unsqueeze(1)
        return data


__all__ = ['VolumeDataPreprocessor']
