"""Testing entry points: the config of ``tools/test.py`` (checkpoint, FROC report, dumped predictions, drawn
slices), the run, and the FROC table printed from the report."""
import json
import os
import os.path as osp
import time
from typing import Optional

from mmengine.config import Config

from .train import build_runner, prepare_run_config, setup_distributed


def build_test_cfg(config: str,
                   checkpoint: str,
                   work_dir: Optional[str] = None,
                   out: Optional[str] = None,
                   show_dir: Optional[str] = None,
                   score_thr: float = 0.3,
                   cfg_options: Optional[dict] = None,
                   launcher: str = 'none') -> Config:
    """The test config of ``tools/test.py``, ready for ``Runner.from_cfg``.

    Args:
        config (str): config file.
        checkpoint (str): checkpoint to test.
        work_dir (str, optional): where ``froc.json`` and the logs go; see :func:`~mmdet3dctx.apis.load_config`.
        out (str, optional): ``.pkl`` file the predictions are dumped to (for ``tools/eval_froc.py``).
        show_dir (str, optional): folder under the work dir where the key slices are drawn with ground truth and
            detections (:class:`~mmdet3dctx.engine.CTDetVisualizationHook`).
        score_thr (float): score threshold of drawn detections. Default: 0.3.
        cfg_options (dict, optional): config overrides.
        launcher (str): 'none', 'pytorch' or 'slurm'. Default: 'none'.

    Returns:
        Config: the config.
    """
    cfg = prepare_run_config(config, cfg_options, work_dir)
    cfg.load_from = checkpoint
    cfg.resume = False
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    for ev in evaluators:
        if ev.get('type') == 'DeepLesionMetric' and ev.get('out_dir') is None:
            ev['out_dir'] = cfg.work_dir
    if out:
        if not out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--out must be a .pkl/.pickle file, got {out}')
        evaluators.append(dict(type='DumpDetResults', out_file_path=out))
    cfg.test_evaluator = evaluators
    if show_dir:
        cfg.default_hooks.visualization = dict(
            type='CTDetVisualizationHook', draw=True, test_out_dir=show_dir, score_thr=score_thr)
        cfg.visualizer.setdefault('bbox_color', (255, 60, 60))
        cfg.visualizer.setdefault('line_width', 1)
        # MMEngine keeps visualizers by name for the whole process: a fresh name makes this run build its own
        # DetLocalVisualizer rather than pick up one an earlier runner in the process left under 'visualizer'
        cfg.visualizer.name = f"{cfg.visualizer.get('name', 'visualizer')}_{os.getpid()}_{time.time_ns()}"
    setup_distributed(cfg, launcher)
    return cfg


def print_froc(work_dir: str) -> dict:
    """Print the FROC table of ``<work_dir>/froc.json`` and return the report."""
    from mmdet3dctx.evaluation.deeplesion_eval import format_froc_table
    path = osp.join(work_dir, 'froc.json')
    with open(path) as f:
        report = json.load(f)
    print(format_froc_table({osp.basename(osp.normpath(work_dir)): report}), flush=True)
    print(f'FROC report: {path}', flush=True)
    return report


def run_test(config: str, checkpoint: str, **kwargs) -> dict:
    """Test as ``tools/test.py`` does (``kwargs`` as :func:`build_test_cfg`): run the test loop, print the FROC
    table when the metric wrote ``froc.json``, return the metrics."""
    cfg = build_test_cfg(config, checkpoint, **kwargs)
    metrics = build_runner(cfg).test()
    from mmengine.dist import is_main_process
    if is_main_process() and osp.isfile(osp.join(cfg.work_dir, 'froc.json')):
        print_froc(cfg.work_dir)
    return metrics
