"""The pretrain -> transfer -> fine-tune chain of the demos, end to end with a shrunk model (slow)."""
import glob
import os.path as osp

import pytest
import torch

from mmdet3dctx.testing.tiny_detector import tiny_cfg_argv

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = osp.join(ROOT, 'configs', 'demo', 'a3d_coco_pseudo3d_synthetic.py')
FINETUNE = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_finetune_synthetic.py')


@pytest.mark.slow
def test_pretrain_transfer_finetune(tmp_path, monkeypatch, capsys, load_tool):
    train = load_tool('train')
    from mmdet3dctx.testing import make_synthetic_coco, make_synthetic_deeplesion
    monkeypatch.delenv('DEEPLESION_ROOT', raising=False)
    coco = str(tmp_path / 'coco') + '/'
    make_synthetic_coco(coco, num_train=8, num_val=2, image_size=64, seed=0)
    lesions = make_synthetic_deeplesion(str(tmp_path / 'deeplesion'), num_patients=6, seed=1, image_size=64)

    # 1. pseudo-3D pretraining: 3 slices, 80 classes
    work1 = str(tmp_path / 'pretrain')
    runner = train.main([PRETRAIN, '--work-dir', work1] + tiny_cfg_argv(
        data_root=coco, **{'test_evaluator.ann_file': coco + 'annotations/instances_val2017.json'}))
    assert runner.epoch == 1
    src = osp.join(work1, 'epoch_1.pth')

    # 2. transfer to the 7-slice, 1-class lesion detector
    tool = load_tool('transfer_weights')
    init = str(tmp_path / 'a3d_7slice_from_coco.pth')
    assert tool.main([src, '--config', FINETUNE, '--out', init] + tiny_cfg_argv()) == 0
    table = capsys.readouterr().out
    assert 'a3d: 3 -> 7 slices' in table and 'class-specific' in table

    # 3. fine-tuning from the transferred weights
    work2 = str(tmp_path / 'finetune')
    runner = train.main([FINETUNE, '--work-dir', work2] + tiny_cfg_argv(data_root=lesions, load_from=init))
    assert runner.epoch == 1 and osp.isfile(osp.join(work2, 'epoch_1.pth'))
    logs = ''.join(open(p).read() for p in glob.glob(osp.join(work2, '*', '*.log')))
    assert f'Load checkpoint from {init}' in logs
    ckpt = torch.load(init, weights_only=True)['state_dict']
    assert ckpt['neck.reduction.reducers.0.weight'].shape[2] == 7
