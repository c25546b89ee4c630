"""Running a trained lesion detector over every slice of a CT study."""
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmdet3dctx.io import CTVolume
from .lesion_linking import LesionFinding, link_detections
from .transforms import inference_pipeline


def _build_detector(cfg, checkpoint: Optional[str], device: str) -> torch.nn.Module:
    """The detector of ``cfg`` in eval mode on ``device``, as MMDetection's ``init_detector`` builds it (the
    backbone without its ``init_cfg``: the weights come from ``checkpoint``), with the weights of ``checkpoint``
    read by :func:`~mmdet3dctx.utils.read_state_dict` and loaded as MMEngine's ``load_checkpoint`` does (the file
    named, not strictly, mismatched keys printed); as built where ``checkpoint`` is None."""
    from mmdet.registry import MODELS
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import load_state_dict

    from mmdet3dctx.utils import read_state_dict
    if 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg = None
    scope = cfg.get('default_scope', 'mmdet')
    if scope is not None:
        init_default_scope(scope)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    if checkpoint is not None:
        load_state_dict(model, read_state_dict(checkpoint, logger=None), strict=False)
    model.cfg = cfg
    return model.to(device).eval()


class CTStudyDetector:
    """A detector config + checkpoint applied to CT volumes, slice by slice, then linked in 3D.

    Every key slice gets the input training would have built for it (slice count, interval normalisation and
    window from the config's test pipeline); batches of slices go through the model's ``test_step``; the 2D
    detections above ``score_thr`` are linked over consecutive slices (never across a gap) into
    :class:`LesionFinding` s.

    Args:
        config (str | Config): detector config.
        checkpoint (str, optional): weights to load (a local path).
        device (str): 'cpu' or 'cuda:0'. Default: 'cpu'.
        score_thr (float): minimum score of a 2D detection. Default: 0.5.
        batch_size (int): slices per forward pass. Default: 8.
        link_iou (float): IoU linking boxes of consecutive slices. Default: 0.3.
    """

    def __init__(self, config, checkpoint: Optional[str] = None, device: str = 'cpu', score_thr: float = 0.5,
                 batch_size: int = 8, link_iou: float = 0.3) -> None:
        import mmdet3dctx  # noqa: F401  (registers the plugins)
        from mmengine.dataset import Compose

        from mmdet3dctx.apis import read_config
        cfg = read_config(config)  # a path or a Config, its references resolved
        pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
        self.pipeline_cfg = inference_pipeline(pipeline)
        self.model = _build_detector(cfg, checkpoint or None, device)
        self.pipeline = Compose(self.pipeline_cfg)
        self.score_thr, self.batch_size, self.link_iou = score_thr, batch_size, link_iou
        self.with_mask = bool(getattr(self.model, 'with_mask', False))
        #: seconds spent on model inputs, the model and 3D linking by the last call
        self.timings: Dict[str, float] = {}

    def detect_slices(self, volume: CTVolume, slice_ids: Sequence[int],
                      progress: Optional[Callable[[int], None]] = None
                      ) -> Tuple[List[np.ndarray], List[np.ndarray], List[Optional[np.ndarray]]]:
        """Per-slice boxes ``(K, 4)``, scores ``(K,)`` and masks ``(K, H, W)`` (or None) in pixel coordinates."""
        from mmengine.dataset import pseudo_collate
        boxes, scores, masks = [], [], []
        t_inputs = t_model = 0.0
        for start in range(0, len(slice_ids), self.batch_size):
            ids = slice_ids[start:start + self.batch_size]
            t0 = time.perf_counter()
            data = pseudo_collate([self.pipeline(dict(volume=volume, key_index=int(k))) for k in ids])
            t1 = time.perf_counter()
            with torch.no_grad():
                preds = self.model.test_step(data)
            for p in preds:
                inst = p.pred_instances
                keep = inst.scores >= self.score_thr
                boxes.append(inst.bboxes[keep].cpu().numpy())
                scores.append(inst.scores[keep].cpu().numpy())
                m = inst.get('masks')
                masks.append(m[keep].cpu().numpy().astype(bool) if m is not None else None)
            t_inputs, t_model = t_inputs + t1 - t0, t_model + time.perf_counter() - t1  # results on the CPU
            if progress is not None:
                progress(len(ids))
        self.timings = dict(inputs=t_inputs, model=t_model)
        return boxes, scores, masks

    def __call__(self, volume: CTVolume, slice_ids: Optional[Sequence[int]] = None,
                 progress: Optional[Callable[[int], None]] = None) -> List[LesionFinding]:
        """3D lesion candidates of ``volume`` (all slices, or ``slice_ids``), best first."""
        slice_ids = list(range(volume.num_slices)) if slice_ids is None else sorted(slice_ids)
        boxes, scores, masks = self.detect_slices(volume, slice_ids, progress)
        t0 = time.perf_counter()
        found = link_detections(slice_ids, boxes, scores, masks if self.with_mask else None,
                                positions=volume.positions, pixel_spacing=volume.spacing[1:],
                                slice_interval=volume.slice_interval, iou_thr=self.link_iou,
                                run_ids=volume.run_ids())
        self.timings['linking'] = time.perf_counter() - t0
        return found
