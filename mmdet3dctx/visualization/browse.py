"""Browse a dataset as the model sees it: every sample through the config's train pipeline, drawn as CT."""
import inspect
import math
import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .ct_sample import draw_ct_sample


def pipeline_value_range(pipeline: list) -> Optional[Tuple[float, float]]:
    """The range the pipeline maps the CT window to (``out_range`` of ``LoadDeepLesionSlices``), or None."""
    for step in pipeline or []:
        if isinstance(step, dict) and 'window' in step and str(step.get('type', '')).startswith('Load'):
            out_range = step.get('out_range')
            if out_range is None:
                from mmdet3dctx.datasets.transforms import LoadDeepLesionSlices
                out_range = inspect.signature(LoadDeepLesionSlices).parameters['out_range'].default
            return float(out_range[0]), float(out_range[1])
    return None


def _dataset_pipeline(dataset_cfg) -> list:
    while 'pipeline' not in dataset_cfg and 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg.get('pipeline', [])


def _sample_arrays(item: dict):
    """``(volume (D, H, W), boxes (K, 4), masks (K, H, W) or None, metainfo)`` of a packed sample."""
    inputs = item['inputs']
    volume = inputs.detach().cpu().numpy() if hasattr(inputs, 'detach') else np.asarray(inputs)
    if volume.ndim == 4 and volume.shape[0] == 1:  # (1, D, H, W)
        volume = volume[0]
    sample = item['data_samples']
    gt = sample.gt_instances
    boxes = gt.get('bboxes', None)
    if boxes is None:
        boxes = np.zeros((0, 4))
    else:
        boxes = getattr(boxes, 'tensor', boxes)
        boxes = boxes.detach().cpu().numpy() if hasattr(boxes, 'detach') else np.asarray(boxes)
    masks = gt.get('masks', None)
    if masks is not None:
        masks = masks.to_ndarray() if hasattr(masks, 'to_ndarray') else np.asarray(masks)
    return volume, boxes, masks, sample.metainfo


def _write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB image whole or not at all (a temporary name, then renamed)."""
    tmp = f'{path}.tmp{os.getpid()}.png'
    try:
        if not cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f'{path}: could not write the image')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def browse_dataset(cfg,
                   output_dir: Optional[str] = None,
                   show: bool = True,
                   show_interval: float = 2.0,
                   num_samples: Optional[int] = None,
                   split: str = 'train') -> List[dict]:
    """Run each sample of a config's dataset through its pipeline and draw it (as MMDetection's
    ``tools/analysis_tools/browse_dataset.py`` does for 2D images).

    Each sample is drawn by :func:`draw_ct_sample`: its slices side by side in the CT window the pipeline applied
    (``out_range`` of ``LoadDeepLesionSlices``), the ground-truth boxes on every slice, the masks on the key slice.

    Args:
        cfg (mmengine.Config): The config (its ``data_root`` already resolved).
        output_dir (str, optional): Save ``<key slice file name>.png`` per sample here.
        show (bool): Open a window per sample. Defaults to True.
        show_interval (float): Seconds each window stays. Defaults to 2.
        num_samples (int, optional): Stop after this many samples. Defaults to all.
        split (str): ``'train'``, ``'val'`` or ``'test'``: whose dataloader's dataset and pipeline. Defaults to
            ``'train'``.

    Returns:
        list[dict]: Per sample ``index``, ``file_name``, ``out_file`` (or None), ``bboxes`` ``(K, 4)`` as drawn,
        ``num_slices`` and ``key_index``.
    """
    import mmdet3dctx  # noqa: F401  (registers the plugins)
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    from mmengine.utils import ProgressBar

    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        raise ValueError(f'the config has no {split}_dataloader.dataset to browse')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = DATASETS.build(loader['dataset'])
    value_range = pipeline_value_range(_dataset_pipeline(loader['dataset']))
    total = len(dataset) if num_samples is None else min(int(num_samples), len(dataset))
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
    visualizer = None
    if show:
        from mmengine.visualization import Visualizer
        visualizer = Visualizer(name=f'browse_dataset_{os.getpid()}_{id(dataset)}')
    records = []
    bar = ProgressBar(total)
    for index in range(total):
        item = dataset[index]
        volume, boxes, masks, meta = _sample_arrays(item)
        interval = meta.get('input_slice_interval')
        interval = float(interval) if interval is not None and math.isfinite(float(interval)) else None
        image = draw_ct_sample(volume, boxes, masks, value_range=value_range, input_slice_interval=interval)
        name = meta.get('file_name') or osp.basename(meta.get('img_path', f'{index:06d}.png'))
        name = osp.splitext(name)[0] + '.png'
        out_file = osp.join(output_dir, name) if output_dir else None
        if out_file:
            _write_png(out_file, image)
        if visualizer is not None:
            visualizer.show(image, win_name=name, wait_time=show_interval)
        records.append(dict(index=index, file_name=name, out_file=out_file, bboxes=np.asarray(boxes),
                            num_slices=volume.shape[0], key_index=volume.shape[0] // 2))
        bar.update()
    return records
