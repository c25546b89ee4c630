"""MMDetection's visualisation hook drawing on the windowed CT slice instead of the 8-bit view of a 16-bit PNG."""
import os.path as osp
from typing import Sequence, Tuple

import mmengine
import numpy as np
from mmengine.fileio import get
from mmdet.engine.hooks import DetVisualizationHook
from mmdet.registry import HOOKS

from mmdet3dctx.datasets.slice_sampling import decode_hu_png, window_hu


@HOOKS.register_module()
class CTDetVisualizationHook(DetVisualizationHook):
    """``DetVisualizationHook`` for DeepLesion-style CT slices: ground truth and detections drawn on the key slice
    in a HU window.

    MMDetection's hook reads ``img_path`` as an 8-bit colour image, which flattens a 16-bit CT PNG (HU + 32768) to
    an unreadable picture; this one decodes HU and maps ``window`` to 0-255 grey. Everything else (``draw``,
    ``interval``, ``score_thr``, ``show``, ``test_out_dir``) is as in the parent. Any config can use it, e.g.
    ``default_hooks = dict(visualization=dict(type='CTDetVisualizationHook', draw=True, test_out_dir='vis'))``
    (what ``tools/test.py --show-dir vis`` sets).

    Args:
        window (tuple[float, float]): HU window drawn. Default: (-175, 275) (soft tissue).
        *args, **kwargs: as ``DetVisualizationHook``.
    """

    def __init__(self, *args, window: Tuple[float, float] = (-175, 275), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.window = tuple(window)

    def ct_image(self, path: str) -> np.ndarray:
        """The slice at ``path`` as an ``(H, W, 3)`` uint8 image in the HU window."""
        hu = decode_hu_png(get(path, backend_args=self.backend_args), path)
        grey = window_hu(hu, self.window, (0, 255)).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        if self.draw is False:
            return
        total_curr_iter = runner.iter + batch_idx
        if total_curr_iter % self.interval == 0:
            path = outputs[0].img_path
            self._visualizer.add_datasample(
                osp.basename(path) if self.show else 'val_img', self.ct_image(path), data_sample=outputs[0],
                show=self.show, wait_time=self.wait_time, pred_score_thr=self.score_thr, step=total_curr_iter)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        """Draw every test sample; with ``test_out_dir`` write it to ``<work_dir>/<timestamp>/<test_out_dir>``."""
        if self.draw is False:
            return
        if self.test_out_dir is not None:
            # runner.work_dir is absolute: after the first call test_out_dir is absolute and stays
            self.test_out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mmengine.mkdir_or_exist(self.test_out_dir)
        for data_sample in outputs:
            self._test_index += 1
            path = data_sample.img_path
            out_file = None
            if self.test_out_dir is not None:
                name = data_sample.metainfo.get('file_name') or osp.basename(path)
                out_file = osp.join(self.test_out_dir, name)
            self._visualizer.add_datasample(
                osp.basename(path) if self.show else 'test_img', self.ct_image(path), data_sample=data_sample,
                show=self.show, wait_time=self.wait_time, pred_score_thr=self.score_thr, out_file=out_file,
                step=self._test_index)
