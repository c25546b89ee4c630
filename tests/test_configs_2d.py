"""The 2D-network routes (configs/deeplesion_2d): every config builds at full size; a shrunk copy trains a step
and predicts on tiny inputs."""
import glob
import os.path as osp

import pytest

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmdet3dctx.apis import read_config
from mmdet3dctx.testing.tiny_detector import train_step_and_predict

register_all_modules(init_default_scope=True)
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'deeplesion_2d', '*.py')) +
                 [c for c in glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py'))
                  if osp.basename(c).startswith(('3dce', 'thickened', 'swin'))])


def test_the_configs_and_their_demo_versions_exist():
    assert {osp.basename(c) for c in CONFIGS} >= {
        '3dce_r50_9slice.py', 'thickened_esm_ssa_r50_9slice.py', 'swin_t_center_7slice.py', 'swin_t_average_7slice.py',
        '3dce_r18_9slice_synthetic.py', 'thickened_esm_ssa_r18_9slice_synthetic.py',
        'swin_t_center_7slice_synthetic.py', 'swin_t_average_7slice_synthetic.py'}


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_3dce_configs_feed_the_rpn_with_the_key_group(path):
    """As in the published 3DCE: the key group alone feeds the RPN (ESM has no key-group maps, Swin no groups)."""
    model = read_config(path).model
    if osp.basename(path).startswith('3dce'):
        assert model.type == 'KeyGroupRPNMaskRCNN' and model.rpn_on_key_group is True
        assert model.backbone.fusion == '3dce'
    else:
        assert not model.get('rpn_on_key_group', False)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_builds_trains_and_predicts(path):
    cfg = read_config(path)
    num_slices = cfg.model.backbone.num_slices
    loads = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'LoadDeepLesionSlices']
    assert loads[0]['num_slices'] == num_slices
    assert [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'LoadDeepLesionSlices'][0][
        'num_slices'] == num_slices
    if 'demo' not in path:  # full size: build only
        full = MODELS.build(cfg.model)
        assert type(full.backbone).__name__ == cfg.model.backbone.type
        del full
    _, results = train_step_and_predict(cfg.model, num_slices)
    assert len(results) == 2 and results[0].pred_instances.bboxes.shape[-1] == 4
