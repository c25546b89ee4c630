"""Packing of CT samples: MMDetection's ``PackDetInputs`` with the CT meta keys."""
from typing import Sequence

from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS

#: MMDetection's default meta keys of ``PackDetInputs``.
DET_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction')
#: What the CT loaders add: the series' slice interval and the mm between the model's input slices (read by the
#: detector for operators that need the slice interval), the slice order of pseudo-3D inputs, and what
#: ``DeepLesionMetric`` reads; the case, slice and pixel spacing (mm) of a volume slice (``VolumeFROCMetric``).
CT_META_KEYS = ('slice_interval', 'input_slice_interval', 'slice_order', 'instances', 'file_name', 'split',
                'case_id', 'key_index', 'pixel_spacing')


@TRANSFORMS.register_module()
class PackCTInputs(PackDetInputs):
    """``PackDetInputs`` whose metainfo also carries the CT keys (:data:`CT_META_KEYS`), so configs need not list them.

    A key missing from a sample is skipped (as ``PackDetInputs`` does), so one transform packs DeepLesion slices
    (``LoadDeepLesionSlices``, ``LoadCTVolumeSlices``) and pseudo-3D COCO images (``RGBToPseudo3D``) alike. The
    ``(H, W, D)`` image becomes a ``(D, H, W)`` tensor, as with ``PackDetInputs``.

    Args:
        meta_keys (Sequence[str]): Meta keys to pack. Default: :data:`DET_META_KEYS` + :data:`CT_META_KEYS`.

    Example:
        >>> import numpy as np
        >>> pack = PackCTInputs()
        >>> out = pack(dict(img=np.zeros((8, 8, 3), np.float32), img_id=0, input_slice_interval=2.0))
        >>> tuple(out['inputs'].shape), out['data_samples'].input_slice_interval
        ((3, 8, 8), 2.0)
    """

    def __init__(self, meta_keys: Sequence[str] = DET_META_KEYS + CT_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))
