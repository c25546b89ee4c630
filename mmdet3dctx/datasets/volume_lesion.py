"""Lesion detection on the slices of prepared CT volumes (``tools/prepare_volumes.py``: ``volumes.json`` + cache)."""
import os.path as osp
from typing import Dict, List

import numpy as np

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from mmdet3dctx.utils import check_config_resolved
from .volume_index import INDEX_NAME, SPLITS, VolumeIndexError, lesion_slices, load_volume_index, split_cases


@DATASETS.register_module()
class VolumeLesionDataset(BaseDetDataset):
    """The slices of a prepared volume dataset's split, single class ``lesion``.

    Training (``test_mode=False``): one sample per lesion-bearing slice of every case of the split, with the 2D
    box of every lesion on that slice (the index's per-lesion ``slices`` map), plus one sample per slice of the
    case's ``negative_slices`` (no boxes). MMDetection's ``filter_cfg=dict(filter_empty_gt=True)`` drops the
    negative samples (as ``CocoDataset`` drops images without boxes); the default, no filtering, trains on them.
    ``filter_cfg=dict(min_size=N)`` drops samples whose slice is smaller than ``N`` pixels wide or high.

    Testing (``test_mode=True``): one sample per slice of every case of the split, in case and slice order, so
    that :class:`~mmdet3dctx.evaluation.VolumeFROCMetric` links each case's slice detections into 3D findings;
    no filtering.

    Each data info holds ``img_path`` (the case's ``cache/<case_id>.npy``), ``lesion_map_path``
    (``cache/<case_id>_lesions.npy``), ``case_id``, ``key_slice`` and ``key_index`` (the 0-based slice of the
    volume), ``img_id`` (1-based sample rank), ``file_name`` (``'<case_id>/<slice>'``), ``height``, ``width``,
    ``slice_interval`` (the case's median step in mm), ``pixel_spacing`` ``(y, x)`` mm, ``split``, and
    ``instances``: per lesion on the slice ``bbox`` (``x1, y1, x2, y2``, continuous pixel coordinates),
    ``bbox_label`` 0, ``ignore_flag`` 0, ``lesion_id`` (its value in the lesion map, for masks),
    ``diameters_mm`` (the lesion's diameter) and ``key_slice`` (whether this is the lesion's key slice).
    :meth:`get_data_info` adds ``positions`` (the case's ``(Z,)`` slice positions in mm, kept once per case
    rather than in every sample) for :class:`~mmdet3dctx.datasets.transforms.LoadVolumeSlices`.

    Args:
        ann_file (str): The index, relative to ``data_root`` unless absolute; cache paths are relative to its
            folder. Defaults to ``'volumes.json'``.
        split (str): ``'train'``, ``'val'``, ``'test'`` (or ``'all'``). Defaults to ``'train'``.
        check_files (bool): Raise if a case's cache files are missing (the error names the case and file).
            Defaults to True.
        **kwargs: Passed to :class:`mmdet.datasets.BaseDetDataset` (``data_root``, ``pipeline``, ``test_mode``,
            ``filter_cfg``, ...).

    Raises:
        VolumeIndexError: unreadable index, unknown split, an empty split, a missing cache file.

    Example:
        >>> from mmdet3dctx.datasets import VolumeLesionDataset
        >>> ds = VolumeLesionDataset(data_root='data/liver_prepared', split='val', test_mode=True,
        ...                          pipeline=[])  # doctest: +SKIP
        >>> ds[0]['case_id'], ds[0]['key_index']  # doctest: +SKIP
    """

    METAINFO = dict(classes=('lesion', ), palette=[(220, 20, 60)])

    def __init__(self, *args, ann_file: str = INDEX_NAME, split: str = 'train', check_files: bool = True,
                 **kwargs) -> None:
        check_config_resolved(dict(kwargs, ann_file=ann_file, split=split), 'VolumeLesionDataset')
        if split not in SPLITS + ('all', ):
            raise VolumeIndexError(f'VolumeLesionDataset: unknown split {split!r}; choose from {SPLITS + ("all", )}')
        self.split = split
        self.check_files = check_files
        self.case_positions: Dict[str, np.ndarray] = {}
        super().__init__(*args, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the index into data infos (see the class docstring).

        Returns:
            list[dict]: One data info per slice sample.
        """
        if osp.basename(self.ann_file) != INDEX_NAME:
            raise VolumeIndexError(f'{self.ann_file}: VolumeLesionDataset reads a prepared dataset\'s {INDEX_NAME}')
        root = osp.dirname(self.ann_file)
        index = load_volume_index(root)
        cases = split_cases(index, self.split)
        if not cases:
            raise VolumeIndexError(f'{index["path"]}: no case in the {self.split!r} split')
        data_list = []
        for case in cases:
            cid = case['case_id']
            where = f'{index["path"]}: case {cid}'
            paths = {}
            for key in ('cache', 'lesion_map'):
                if not isinstance(case.get(key), str):
                    raise VolumeIndexError(f'{where}: no {key!r} path')
                paths[key] = osp.join(root, case[key])
                if self.check_files and not osp.isfile(paths[key]):
                    raise VolumeIndexError(f'{where}: {key} file {paths[key]} not found (run tools/prepare_volumes.py '
                                           'again to rebuild the cache)')
            shape = case.get('shape')
            positions = case.get('positions')
            if not isinstance(shape, list) or len(shape) != 3 or not isinstance(positions, list) \
                    or len(positions) != shape[0]:
                raise VolumeIndexError(f'{where}: needs "shape" [Z, H, W] and Z "positions"')
            self.case_positions[cid] = np.asarray(positions, np.float64)
            by_slice: Dict[int, List[dict]] = {}
            for les in case.get('lesions') or []:
                for k, box in les['slices'].items():
                    by_slice.setdefault(int(k), []).append(
                        dict(bbox=[float(v) for v in box], bbox_label=0, ignore_flag=0,
                             lesion_id=int(les['lesion_id']), diameters_mm=(float(les['diameter_mm']), ),
                             key_slice=int(k) == int(les['key_slice'])))
            if self.test_mode:
                ks = range(int(shape[0]))
            else:
                ks = sorted(set(lesion_slices(case)) | {int(k) for k in case.get('negative_slices') or []})
            spacing = case.get('spacing') or [float('nan')] * 3
            for k in ks:
                data_list.append(
                    dict(img_path=paths['cache'], lesion_map_path=paths['lesion_map'], seg_map_path=None,
                         case_id=cid, key_slice=k, key_index=k, img_id=len(data_list) + 1, file_name=f'{cid}/{k}',
                         height=int(shape[1]), width=int(shape[2]), slice_interval=float(spacing[0]),
                         pixel_spacing=(float(spacing[1]), float(spacing[2])), split=self.split,
                         instances=by_slice.get(k, [])))
        return data_list

    def filter_data(self) -> List[dict]:
        """``filter_cfg``: ``filter_empty_gt`` drops the samples without lesions (training only), ``min_size``
        the samples of slices narrower or lower than it (pixels). Test mode keeps every slice.

        Returns:
            list[dict]: The kept data infos.
        """
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        return [d for d in self.data_list if not (filter_empty_gt and not d['instances'])
                and min(d['width'], d['height']) >= min_size]

    def get_data_info(self, idx: int) -> dict:
        """The data info of sample ``idx`` with its case's slice ``positions`` (mm) added."""
        info = super().get_data_info(idx)
        info['positions'] = self.case_positions[info['case_id']]
        return info

    def case_ids(self) -> List[str]:
        """The cases of the split, in index order."""
        return list(self.case_positions)
