"""The COCO-style JSON of DeepLesion written by ``tools/prepare_deeplesion.py``, and its reader.

Every field of :func:`~mmdet3dctx.datasets.dl_info.load_key_slices` is kept per image and per annotation, so
the JSON and the CSV give identical data infos (the JSON adds masks). NaN is stored as ``null``.
"""
import json
import math
import os.path as osp
from typing import Dict, List, Optional

_IMAGE_KEYS = ('file_name', 'img_path', 'patient_index', 'study_index', 'series_id', 'key_slice', 'slice_range',
               'slice_interval', 'spacing', 'image_size', 'width', 'height', 'dicom_window', 'sex', 'age',
               'split', 'rows')
_TUPLE_KEYS = ('slice_range', 'spacing', 'image_size', 'dicom_window')
_ANN_KEYS = ('recist', 'diameters_mm', 'diameters_px', 'lesion_type', 'noisy', 'location', 'row')
_NAN_KEYS = ('slice_interval', 'age')


def _nan_to_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def key_slices_to_coco(infos: List[dict], masks: Optional[Dict[tuple, dict]] = None,
                       description: str = 'DeepLesion') -> dict:
    """Convert key slices (all lesions, from :func:`group_key_slices`) to a COCO-style dict.

    Args:
        infos (list[dict]): Key slices; each needs ``img_id`` (int) besides the fields of ``load_key_slices``.
        masks (dict, optional): ``{(img_id, lesion_index): dict(segmentation=[...], area=float, how=str)}``.
        description (str): ``info.description``.

    Returns:
        dict: With ``images``, ``annotations``, ``categories`` (one, ``lesion``) and ``info``. An annotation's
        ``bbox`` is COCO ``[x, y, w, h]`` (0-based, ``w = x2 - x1``); ``bbox_xyxy`` keeps the exact corners.
    """
    images, anns = [], []
    for info in infos:
        img = {k: _nan_to_none(info[k]) for k in _IMAGE_KEYS}
        img['id'] = int(info['img_id'])
        images.append(img)
        for j, ins in enumerate(info['instances']):
            x1, y1, x2, y2 = ins['bbox']
            ann = dict(id=len(anns) + 1, image_id=img['id'], category_id=1, iscrowd=0,
                       bbox=[x1, y1, x2 - x1, y2 - y1], bbox_xyxy=list(ins['bbox']),
                       area=(x2 - x1) * (y2 - y1))
            ann.update({k: ins[k] for k in _ANN_KEYS})
            if masks is not None and (img['id'], j) in masks:
                m = masks[(img['id'], j)]
                ann['segmentation'] = m['segmentation']
                ann['area'] = float(m['area'])
                ann['mask_method'] = m['how']
            anns.append(ann)
    return dict(info=dict(description=description), images=images, annotations=anns,
                categories=[dict(id=1, name='lesion')])


def load_coco_key_slices(json_path: str) -> List[dict]:
    """Read a JSON written by :func:`key_slices_to_coco` back into key-slice dicts (all lesions kept).

    Args:
        json_path (str): The JSON file.

    Returns:
        list[dict]: As :func:`~mmdet3dctx.datasets.dl_info.load_key_slices` with ``skip_noisy=False``, plus
        ``img_id``; an instance with a segmentation gets ``mask`` (polygons) and ``mask_method``.
    """
    if not osp.isfile(json_path):
        raise FileNotFoundError(f'DeepLesion annotation file not found: {json_path}')
    with open(json_path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{json_path}: not valid JSON ({e})') from None
    for key in ('images', 'annotations'):
        if key not in data:
            raise ValueError(f'{json_path}: no {key!r} list; not a DeepLesion COCO-style JSON')
    by_id = {}
    infos = []
    for n, img in enumerate(data['images']):
        missing = [k for k in _IMAGE_KEYS + ('id', ) if k not in img]
        if missing:
            raise ValueError(f'{json_path}: images[{n}] lacks {missing}')
        info = {k: img[k] for k in _IMAGE_KEYS}
        for k in _TUPLE_KEYS:
            info[k] = tuple(info[k])
        for k in _NAN_KEYS:
            info[k] = math.nan if info[k] is None else float(info[k])
        info['img_id'] = img['id']
        info['instances'] = []
        by_id[img['id']] = info
        infos.append(info)
    for n, ann in enumerate(data['annotations']):
        info = by_id.get(ann.get('image_id'))
        if info is None:
            raise ValueError(f'{json_path}: annotations[{n}] refers to unknown image_id {ann.get("image_id")}')
        if 'bbox_xyxy' in ann:
            bbox = [float(v) for v in ann['bbox_xyxy']]
        else:
            x, y, w, h = ann['bbox']
            bbox = [float(x), float(y), float(x + w), float(y + h)]
        ins = dict(bbox=bbox, bbox_label=0, ignore_flag=0)
        try:
            ins.update({k: ann[k] for k in _ANN_KEYS})
        except KeyError as e:
            raise ValueError(f'{json_path}: annotations[{n}] lacks {e}') from None
        ins['diameters_mm'] = tuple(ins['diameters_mm'])
        ins['diameters_px'] = tuple(ins['diameters_px'])
        ins['location'] = tuple(ins['location'])
        ins['noisy'] = bool(ins['noisy'])
        if ann.get('segmentation'):
            ins['mask'] = ann['segmentation']
            ins['mask_method'] = ann.get('mask_method', '')
        info['instances'].append(ins)
    return infos
