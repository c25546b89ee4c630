"""The pretrain -> transfer -> fine-tune chain of the demos, end to end with a shrunk model (slow)."""
import glob
import importlib.util
import os.path as osp
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
PRETRAIN = osp.join(ROOT, 'configs', 'demo', 'a3d_coco_pseudo3d_synthetic.py')
FINETUNE = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_finetune_synthetic.py')

#: the demo models shrunk to seconds per epoch (same sizes on both sides of the transfer)
TINY = {
    'model.backbone.block_config': '(1,1,1)',
    'model.backbone.growth_rate': 8,
    'model.backbone.num_init_features': 16,
    'model.neck.neck.in_channels': '[24,20,18]',
    'model.neck.neck.out_channels': 32,
    'model.rpn_head.in_channels': 32,
    'model.rpn_head.feat_channels': 32,
    'model.roi_head.bbox_roi_extractor.out_channels': 32,
    'model.roi_head.mask_roi_extractor.out_channels': 32,
    'model.roi_head.bbox_head.in_channels': 32,
    'model.roi_head.bbox_head.fc_out_channels': 32,
    'model.roi_head.mask_head.in_channels': 32,
    'model.roi_head.mask_head.conv_out_channels': 8,
    'train_cfg.max_epochs': 1,
    'default_hooks.checkpoint.interval': 1,
}


def _opts(**extra):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in dict(TINY, **extra).items()]


@pytest.mark.slow
def test_pretrain_transfer_finetune(tmp_path, monkeypatch, capsys):
    import train
    from mmdet3dctx.datasets.synthetic import make_synthetic_deeplesion
    from mmdet3dctx.pretraining import make_synthetic_coco
    monkeypatch.delenv('DEEPLESION_ROOT', raising=False)
    coco = str(tmp_path / 'coco') + '/'
    make_synthetic_coco(coco, num_train=8, num_val=2, image_size=64, seed=0)
    lesions = make_synthetic_deeplesion(str(tmp_path / 'deeplesion'), num_patients=6, seed=1, image_size=64)

    # 1. pseudo-3D pretraining: 3 slices, 80 classes
    work1 = str(tmp_path / 'pretrain')
    runner = train.main([PRETRAIN, '--work-dir', work1] + _opts(
        data_root=coco, **{'test_evaluator.ann_file': coco + 'annotations/instances_val2017.json'}))
    assert runner.epoch == 1
    src = osp.join(work1, 'epoch_1.pth')

    # 2. transfer to the 7-slice, 1-class lesion detector
    spec = importlib.util.spec_from_file_location('transfer_weights', osp.join(ROOT, 'tools/transfer_weights.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    init = str(tmp_path / 'a3d_7slice_from_coco.pth')
    assert tool.main([src, '--config', FINETUNE, '--out', init] + _opts()) == 0
    table = capsys.readouterr().out
    assert 'a3d: 3 -> 7 slices' in table and 'class-specific' in table

    # 3. fine-tuning from the transferred weights
    work2 = str(tmp_path / 'finetune')
    runner = train.main([FINETUNE, '--work-dir', work2] + _opts(data_root=lesions, load_from=init))
    assert runner.epoch == 1 and osp.isfile(osp.join(work2, 'epoch_1.pth'))
    logs = ''.join(open(p).read() for p in glob.glob(osp.join(work2, '*', '*.log')))
    assert f'Load checkpoint from {init}' in logs
    ckpt = torch.load(init, weights_only=True)['state_dict']
    assert ckpt['neck.reduction.reducers.0.weight'].shape[2] == 7
