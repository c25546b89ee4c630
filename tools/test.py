"""Test a trained detector with MMEngine's Runner: prints the FROC table and writes froc.json.

Example:
    python tools/test.py configs/deeplesion/a3d_7slice.py work_dirs/a3d_7slice/epoch_20.pth
    python tools/test.py CONFIG CKPT --out results.pkl --show-dir vis   # vis under the work_dir
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from train import (ensure_data, fix_amp_without_gpu, load_config,  # noqa: E402
                   setup_distributed)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where froc.json and logs go (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='dump the predictions to a pickle file (for tools/eval_froc.py)')
    parser.add_argument('--show-dir', help='save key slices with ground truth (green) and detections drawn, '
                        'in this folder under the work_dir')
    parser.add_argument('--score-thr', type=float, default=0.3, help='score threshold of drawn detections')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_test_cfg(args):
    cfg = load_config(args)
    ensure_data(cfg)
    fix_amp_without_gpu(cfg)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    for ev in evaluators:
        if ev.get('type') == 'DeepLesionMetric' and ev.get('out_dir') is None:
            ev['out_dir'] = cfg.work_dir
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--out must be a .pkl/.pickle file, got {args.out}')
        evaluators.append(dict(type='DumpDetResults', out_file_path=args.out))
    cfg.test_evaluator = evaluators
    if args.show_dir:
        cfg.default_hooks.visualization = dict(
            type='CTVisualizationHook', draw=True, test_out_dir=args.show_dir, score_thr=args.score_thr)
        cfg.visualizer.setdefault('bbox_color', (255, 60, 60))
        cfg.visualizer.setdefault('line_width', 1)
        # MMEngine keeps visualizers by name for the whole process: a fresh name makes this run build its own
        # DetLocalVisualizer rather than pick up one an earlier runner in the process left under 'visualizer'
        cfg.visualizer.name = f"{cfg.visualizer.get('name', 'visualizer')}_{os.getpid()}_{time.time_ns()}"
    setup_distributed(cfg, args.launcher)
    from mmdet3dctx.utils import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    return cfg


def register_ct_visualization_hook() -> None:
    """Register ``CTVisualizationHook``: MMDetection's ``DetVisualizationHook`` reads ``img_path`` as an 8-bit
    colour image, which flattens a 16-bit CT PNG; this one decodes HU and applies a soft-tissue window."""
    from mmdet.engine.hooks import DetVisualizationHook
    from mmdet.registry import HOOKS
    if 'CTVisualizationHook' in HOOKS.module_dict:
        return
    import mmengine
    import numpy as np
    from mmengine.fileio import get

    from mmdet3dctx.datasets.slice_sampling import decode_hu_png, window_hu

    class CTVisualizationHook(DetVisualizationHook):
        """Draw ground truth and detections on the windowed key slice (``window`` in HU)."""

        def __init__(self, *args, window=(-175, 275), **kwargs):
            super().__init__(*args, **kwargs)
            self.window = tuple(window)

        def after_test_iter(self, runner, batch_idx, data_batch, outputs) -> None:
            if self.draw is False:
                return
            if self.test_out_dir is not None:
                # runner.work_dir is absolute: after the first call test_out_dir is absolute and stays
                self.test_out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
                mmengine.mkdir_or_exist(self.test_out_dir)
            for data_sample in outputs:
                self._test_index += 1
                path = data_sample.img_path
                hu = decode_hu_png(get(path, backend_args=self.backend_args), path)
                grey = window_hu(hu, self.window, (0, 255)).astype(np.uint8)
                img = np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
                out_file = None
                if self.test_out_dir is not None:
                    name = data_sample.metainfo.get('file_name') or osp.basename(path)
                    out_file = osp.join(self.test_out_dir, name)
                self._visualizer.add_datasample(
                    osp.basename(path) if self.show else 'test_img', img, data_sample=data_sample,
                    show=self.show, wait_time=self.wait_time, pred_score_thr=self.score_thr, out_file=out_file,
                    step=self._test_index)

    HOOKS.register_module(name='CTVisualizationHook', module=CTVisualizationHook)


def print_froc(work_dir: str) -> dict:
    """Print the FROC table of ``<work_dir>/froc.json`` and return the report."""
    from mmdet3dctx.evaluation.deeplesion_eval import format_froc_table
    path = osp.join(work_dir, 'froc.json')
    with open(path) as f:
        report = json.load(f)
    print(format_froc_table({osp.basename(osp.normpath(work_dir)): report}), flush=True)
    print(f'FROC report: {path}', flush=True)
    return report


def main(argv=None):
    args = parse_args(argv)
    cfg = build_test_cfg(args)
    register_ct_visualization_hook()
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    metrics = runner.test()
    from mmengine.dist import is_main_process
    if is_main_process() and osp.isfile(osp.join(cfg.work_dir, 'froc.json')):
        print_froc(cfg.work_dir)
    return metrics


if __name__ == '__main__':
    main()
