"""COCO as pseudo-3D: the three colour channels of a natural image become three consecutive slices."""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet.registry import TRANSFORMS

_ORDERS = ('rgb', 'bgr')


@TRANSFORMS.register_module()
class RGBToPseudo3D(BaseTransform):
    """Turn a colour image into a 3-slice pseudo-CT volume ``(H, W, 3)`` for 3D-context detectors.

    MP3D FPN (Zhang et al., MICCAI 2020, "Revisiting 3D Context Modeling with Supervised Pre-training for
    Universal Lesion Detection in CT Slices") pretrains its 3D detector on COCO
    by treating the R, G and B channels as three consecutive slices, the reverse of stacking three CT slices as
    RGB. Put it right after ``LoadImageFromFile`` (which loads BGR) in the pipeline of any COCO-format
    ``CocoDataset``: the image becomes ``float32`` ``(H, W, 3)`` with slice 0 = R, 1 = G, 2 = B (or a random
    permutation per sample with ``random_order``), which ``PackCTInputs`` turns into a ``(3, H, W)`` slice
    stack and :class:`~mmdet3dctx.models.VolumeDataPreprocessor` into ``(N, 1, 3, H, W)``. Every slice gets the
    same normalisation: one ``mean``/``std`` here, or (default) none here and the single mean/std of the data
    preprocessor. Boxes, masks and labels are not touched. ``input_slice_interval`` (and ``slice_interval``)
    are set to ``slice_interval`` for interval-aware operators (AlignShift).

    Required keys: ``img`` (``(H, W, 3)``, channel order ``in_order``).
    Modified keys: ``img``. Added keys: ``slice_order``, ``slice_interval``, ``input_slice_interval``.

    Args:
        in_order (str): Channel order of the loaded image, ``'bgr'`` (MMCV/OpenCV loading) or ``'rgb'``.
            Default: 'bgr'.
        random_order (bool): Shuffle the three slices of each sample (a random permutation; the identity
            included). Default: False.
        mean (float, optional): One value subtracted from every slice. Default: None (no normalisation here).
        std (float, optional): One value dividing every slice. Default: None.
        slice_interval (float): Nominal slice interval in mm written to the metainfo. Default: 2.0.

    Example:
        >>> import numpy as np
        >>> t = RGBToPseudo3D(mean=100., std=50.)
        >>> img = np.zeros((2, 4, 3), np.uint8)
        >>> img[..., 0], img[..., 1], img[..., 2] = 50, 100, 200  # B, G, R as loaded
        >>> out = t(dict(img=img))
        >>> out['img'].shape, out['img'].dtype, out['img'][0, 0].tolist(), out['slice_order']
        ((2, 4, 3), dtype('float32'), [2.0, 0.0, -1.0], ('R', 'G', 'B'))
    """

    def __init__(self,
                 in_order: str = 'bgr',
                 random_order: bool = False,
                 mean: Optional[float] = None,
                 std: Optional[float] = None,
                 slice_interval: float = 2.0) -> None:
        if in_order not in _ORDERS:
            raise ValueError(f'RGBToPseudo3D: in_order must be one of {_ORDERS}, got {in_order!r}')
        for name, value in (('mean', mean), ('std', std)):
            if value is not None and isinstance(value, Sequence):
                raise ValueError(f'RGBToPseudo3D: {name} is one number for every slice, got {value!r}')
        if std is not None and std <= 0:
            raise ValueError(f'RGBToPseudo3D: std must be > 0, got {std}')
        self.in_order = in_order
        self.random_order = random_order
        self.mean = mean
        self.std = std
        self.slice_interval = float(slice_interval)

    def transform(self, results: dict) -> dict:
        """Reorder the channels into slices, cast to float32 and normalise.

        Args:
            results (dict): With ``img`` ``(H, W, 3)``.

        Returns:
            dict: ``img`` ``(H, W, 3)`` float32 slices and ``slice_order`` (colour of each slice).
        """
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'RGBToPseudo3D needs an (H, W, 3) colour image, got shape {img.shape} from '
                             f'{results.get("img_path", "<no img_path>")} (load it with color_type="color")')
        names = ['B', 'G', 'R'] if self.in_order == 'bgr' else ['R', 'G', 'B']
        order = [2, 1, 0] if self.in_order == 'bgr' else [0, 1, 2]  # -> R, G, B
        if self.random_order:
            order = [order[i] for i in np.random.permutation(3)]
        vol = img[..., order].astype(np.float32)
        if self.mean is not None:
            vol -= np.float32(self.mean)
        if self.std is not None:
            vol /= np.float32(self.std)
        results['img'] = np.ascontiguousarray(vol)
        results['slice_order'] = tuple(names[i] for i in order)
        results['slice_interval'] = self.slice_interval
        results['input_slice_interval'] = self.slice_interval
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(in_order={self.in_order!r}, random_order={self.random_order}, '
                f'mean={self.mean}, std={self.std}, slice_interval={self.slice_interval})')
