"""A small synthetic COCO-format detection set: coloured shapes on textured backgrounds, with masks."""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

#: COCO 2017 category ids (1-90 with gaps) and names, in MMDetection's ``CocoDataset`` class order
COCO_CATEGORIES: List[Tuple[int, str]] = list(
    zip([i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)],
        ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
         'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
         'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
         'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
         'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
         'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
         'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard',
         'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
         'scissors', 'teddy bear', 'hair drier', 'toothbrush')))

#: the shapes drawn and the COCO class each is labelled as
SHAPE_CLASSES: Dict[str, str] = {'circle': 'sports ball', 'rectangle': 'book', 'triangle': 'kite', 'ellipse': 'donut'}


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 background: a few random sinusoidal gratings per channel plus noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size, 3), np.float32)
    for c in range(3):
        base = rng.uniform(60, 190)
        layer = np.full((size, size), base, np.float32)
        for _ in range(3):
            fx, fy = rng.uniform(-12, 12, size=2)
            layer += rng.uniform(8, 30) * np.sin(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
        img[..., c] = layer
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shape_polygon(rng: np.random.Generator, kind: str, cx: float, cy: float, r: float) -> np.ndarray:
    """Integer polygon ``(K, 2)`` (x, y) of a shape centred at (cx, cy) with radius ~r."""
    angle = rng.uniform(0, 360)
    if kind == 'circle':
        pts = cv2.ellipse2Poly((int(cx), int(cy)), (int(r), int(r)), 0, 0, 360, 10)
    elif kind == 'ellipse':
        pts = cv2.ellipse2Poly((int(cx), int(cy)), (int(r), max(2, int(r * rng.uniform(0.4, 0.7)))), int(angle),
                               0, 360, 10)
    elif kind == 'rectangle':
        w, h = r * rng.uniform(1.2, 1.8), r * rng.uniform(0.7, 1.2)
        pts = cv2.boxPoints(((cx, cy), (w, h), angle)).round().astype(np.int32)
    else:  # triangle
        a = np.deg2rad(angle) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
        pts = np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1).round().astype(np.int32)
    return np.asarray(pts, np.int32).reshape(-1, 2)


def make_synthetic_image(rng: np.random.Generator, size: int, max_shapes: int = 4) -> Tuple[np.ndarray, list]:
    """One BGR image and its instances ``[(category name, polygon (K, 2), binary mask)]`` (no overlaps)."""
    from pycocotools import mask as mask_utils  # here, so the DeepLesion generator needs no pycocotools
    img = _texture(rng, size)
    taken = np.zeros((size, size), bool)
    instances = []
    kinds = list(SHAPE_CLASSES)
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        for _attempt in range(10):
            kind = kinds[int(rng.integers(len(kinds)))]
            r = rng.uniform(0.08, 0.2) * size
            cx, cy = rng.uniform(r + 2, size - r - 2, size=2)
            poly = _shape_polygon(rng, kind, cx, cy, r)
            # rasterised as pycocotools does (and MMDetection's LoadAnnotations): image, mask and area agree
            rle = mask_utils.frPyObjects([poly.reshape(-1).astype(np.float64).tolist()], size, size)
            mask = mask_utils.decode(mask_utils.merge(rle)).astype(bool)
            if mask.sum() >= 30 and not (mask & taken).any():
                break
        else:
            continue
        taken |= mask
        colour = rng.integers(0, 256, size=3)
        shade = np.clip(colour + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
        img[mask] = shade[mask]
        instances.append((SHAPE_CLASSES[kind], poly, mask))
    return img, instances


def make_synthetic_coco(out_dir: str,
                        num_train: int = 64,
                        num_val: int = 16,
                        image_size: int = 128,
                        seed: int = 0,
                        overwrite: bool = False) -> Dict[str, str]:
    """Write a COCO-2017-like tree: ``train2017/``, ``val2017/`` (PNG) and ``annotations/instances_*.json``.

    All 80 COCO categories are declared (COCO ids and names, so MMDetection's ``CocoDataset`` reads it as
    COCO); the shapes are labelled ``sports ball`` (circle), ``book`` (rectangle), ``kite`` (triangle) and
    ``donut`` (ellipse). Each instance has a polygon segmentation, its bbox ``[x, y, w, h]`` and area from the
    mask as pycocotools rasterises the polygon (the mask MMDetection's ``LoadAnnotations`` decodes; the painted
    shape is that mask). The same arguments give byte-identical files.

    Args:
        out_dir (str): Output folder.
        num_train (int): Training images. Default: 64.
        num_val (int): Validation images. Default: 16.
        image_size (int): Width and height (>= 32). Default: 128.
        seed (int): Random seed. Default: 0.
        overwrite (bool): Replace existing annotation files. Default: False.

    Returns:
        dict: ``{'train': json path, 'val': json path}``.

    Raises:
        FileExistsError: an annotation file exists and ``overwrite`` is False.

    Example:
        >>> import tempfile, json
        >>> paths = make_synthetic_coco(tempfile.mkdtemp(), num_train=2, num_val=1, image_size=64)
        >>> ann = json.load(open(paths['train']))
        >>> len(ann['images']), len(ann['categories']), ann['images'][0]['file_name']
        (2, 80, '000000000001.png')
    """
    if image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {image_size}')
    if num_train < 1 or num_val < 0:
        raise ValueError(f'need num_train >= 1 and num_val >= 0, got {num_train}, {num_val}')
    paths = {s: osp.join(out_dir, 'annotations', f'instances_{s}2017.json') for s in ('train', 'val')}
    if not overwrite:
        for p in paths.values():
            if osp.exists(p):
                raise FileExistsError(f'{p} exists; pass overwrite=True (--force) to replace it')
    name_to_id = {name: cid for cid, name in COCO_CATEGORIES}
    categories = [dict(id=cid, name=name, supercategory='synthetic') for cid, name in COCO_CATEGORIES]
    rng = np.random.default_rng(seed)
    image_id = ann_id = 0
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split, count in (('train', num_train), ('val', num_val)):
        img_dir = osp.join(out_dir, f'{split}2017')
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for _ in range(count):
            image_id += 1
            img, instances = make_synthetic_image(rng, image_size)
            file_name = f'{image_id:012d}.png'
            cv2.imwrite(osp.join(img_dir, file_name), img)
            images.append(dict(id=image_id, file_name=file_name, width=image_size, height=image_size))
            for name, poly, mask in instances:
                ann_id += 1
                ys, xs = np.nonzero(mask)
                x1, y1 = int(xs.min()), int(ys.min())
                annotations.append(
                    dict(id=ann_id, image_id=image_id, category_id=name_to_id[name], iscrowd=0,
                         area=float(mask.sum()), bbox=[x1, y1, int(xs.max()) - x1 + 1, int(ys.max()) - y1 + 1],
                         segmentation=[[float(v) for v in poly.reshape(-1)]]))
        with open(paths[split], 'w') as f:
            json.dump(dict(info=dict(description=f'synthetic shapes, seed {seed}'), licenses=[], images=images,
                           annotations=annotations, categories=categories), f)
    return paths
