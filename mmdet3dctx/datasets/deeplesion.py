"""DeepLesion: universal lesion detection on CT key slices."""
import os.path as osp
from typing import List, Optional, Union

from mmengine import fileio

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from mmdet3dctx.utils import check_config_resolved
from .deeplesion_coco import load_coco_key_slices
from .dl_info import DLInfoError, group_key_slices, parse_split, read_dl_info, select_split
from .recist_masks import ellipse_polygon


@DATASETS.register_module()
class DeepLesionDataset(BaseDetDataset):
    """DeepLesion read straight from ``DL_info.csv`` (or the COCO-style JSON of the preparation tool).

    One sample per unique key slice (``File_name``) with its lesions, single class ``lesion``. Coordinates are
    1-based in the CSV and 0-based here. Each data info holds ``img_path`` (the key slice PNG), ``img_id``
    (1-based rank of the key slice in the file), ``file_name``, ``key_slice``, ``slice_range``,
    ``slice_interval`` (mm, NaN allowed), ``spacing`` (mm/px), ``image_size``, ``width``, ``height``,
    ``dicom_window``, ``sex``, ``age`` (NaN if unknown), ``split`` and ``instances`` with ``bbox``
    (0-based x1, y1, x2, y2), ``bbox_label`` (0), ``ignore_flag`` (0), ``recist``, ``diameters_mm``,
    ``lesion_type``, ``noisy`` and, from the JSON (or with ``ellipse_masks``), ``mask`` polygons.

    Args:
        ann_file (str): ``DL_info.csv`` or a JSON from ``tools/prepare_deeplesion.py``, relative to
            ``data_root`` unless absolute. Defaults to ``'DL_info.csv'``.
        split (str | int | None): ``'train'``, ``'val'``, ``'test'`` (or 1/2/3) selects ``Train_Val_Test``;
            None keeps all. Defaults to ``'train'``.
        skip_noisy (bool): Drop lesions flagged ``Possibly_noisy``, and key slices left with none.
            Defaults to True.
        check_files (bool): Raise if a key slice PNG does not exist (the error names the annotation file and
            row). Defaults to True.
        ellipse_masks (bool): Give CSV lesions an ellipse mask fitted to their RECIST axes (the JSON's own masks
            are kept). Defaults to False.
        data_root (str, optional): The DeepLesion folder (holding ``Images_png``).
        data_prefix (dict): ``img`` is the folder the relative ``Images_png/...`` paths start from; empty means
            ``data_root``. Defaults to ``dict(img='')``.
        **kwargs: Passed to :class:`mmdet.datasets.BaseDetDataset` (``pipeline``, ``test_mode``, ...).

    Example:
        >>> from mmdet3dctx.datasets import DeepLesionDataset
        >>> ds = DeepLesionDataset(data_root='data/DeepLesion', split='val', pipeline=[])  # doctest: +SKIP
        >>> ds[0]['instances'][0]['bbox']  # doctest: +SKIP
    """

    METAINFO = dict(classes=('lesion', ), palette=[(220, 20, 60)])

    def __init__(self,
                 *args,
                 ann_file: str = 'DL_info.csv',
                 split: Union[None, int, str] = 'train',
                 skip_noisy: bool = True,
                 check_files: bool = True,
                 ellipse_masks: bool = False,
                 data_prefix: Optional[dict] = None,
                 **kwargs) -> None:
        check_config_resolved(dict(kwargs, ann_file=ann_file, split=split, ellipse_masks=ellipse_masks),
                              'DeepLesionDataset')
        self.split = split
        self.split_code = parse_split(split)
        self.skip_noisy = skip_noisy
        self.check_files = check_files
        self.ellipse_masks = ellipse_masks
        super().__init__(*args, ann_file=ann_file, data_prefix=data_prefix or dict(img=''), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the annotation file into data infos (split and noisy filtering included).

        Returns:
            list[dict]: One data info per key slice.
        """
        ann_file = self.ann_file
        if ann_file.lower().endswith('.json'):
            infos = load_coco_key_slices(ann_file)
        else:
            infos = group_key_slices(read_dl_info(ann_file), ann_file)
            for i, info in enumerate(infos):
                info['img_id'] = i + 1
        img_root = self.data_prefix.get('img') or self.data_root or osp.dirname(ann_file)
        data_list = []
        for info in select_split(infos, self.split_code, self.skip_noisy):
            if self.ellipse_masks:
                for ins in info['instances']:
                    if 'mask' not in ins:
                        ins['mask'] = [ellipse_polygon(ins['recist'], ins['bbox'])]
            path = osp.join(img_root, info['img_path'])
            if self.check_files and not fileio.exists(path, backend_args=self.backend_args):
                raise DLInfoError(f'{ann_file}, row {info["rows"][0]} ({info["file_name"]}): key slice PNG not '
                                  f'found: {path}')
            info['img_path'] = path
            info['seg_map_path'] = None
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{ann_file}: no key slice in split {self.split!r}'
                             f'{" with a lesion not flagged Possibly_noisy" if self.skip_noisy else ""}')
        return data_list
