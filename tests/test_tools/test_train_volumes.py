"""Training and testing on a prepared volume dataset through the tools' command lines: generated Decathlon-style
volumes -> tools/prepare_volumes.py -> tools/train.py (the volume demo config, shrunk model) -> tools/test.py with
the 3D FROC per volume and the key-slice FROC."""
import json
import os
import os.path as osp

import pytest

from mmdet3dctx.apis import build_train_cfg
from mmdet3dctx.testing.tiny_detector import tiny_cfg_argv

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_volumes_synthetic.py')
FINETUNE = osp.join(ROOT, 'configs', 'volumes', 'a3d_7slice_finetune.py')


def test_missing_index_names_the_preparation_tool(tmp_path, monkeypatch):
    monkeypatch.delenv('VOLUMES_ROOT', raising=False)
    with pytest.raises(SystemExit) as e:
        build_train_cfg(FINETUNE, work_dir=str(tmp_path), cfg_options={'data_root': f'{tmp_path}/none'})
    msg = str(e.value)
    assert f'{tmp_path}/none/volumes.json not found' in msg and 'tools/prepare_volumes.py' in msg
    assert msg.startswith('train_dataloader.dataset')


def test_demo_makes_its_dataset_when_missing(tmp_path):
    root = str(tmp_path / 'volumes')
    cfg = build_train_cfg(DEMO, work_dir=str(tmp_path / 'work'),
                          cfg_options={'data_root': root, 'synthetic_volumes.num_cases': 3,
                                       'synthetic_volumes.size': 48, 'synthetic_volumes.split': [0.34, 0.33, 0.33]})
    with open(osp.join(root, 'volumes.json')) as f:
        index = json.load(f)
    assert sorted(c['split'] for c in index['cases']) == ['test', 'train', 'val']
    assert cfg.train_dataloader.dataset.data_root == root == cfg.test_evaluator.data_root


@pytest.mark.slow
def test_prepare_train_test_in_3d(tmp_path, capsys, load_tool):
    from mmdet3dctx.testing.synthetic_volumes import make_synthetic_msd
    src = make_synthetic_msd(str(tmp_path / 'src'), num_cases=4, seed=0, size=64)['root']
    dst = str(tmp_path / 'prepared')
    assert load_tool('prepare_volumes').main([src, '--out', dst, '--lesion-labels', '2', '--split', '0.5', '0.25',
                                              '0.25', '--no-progress']) == 0
    work = str(tmp_path / 'work')
    runner = load_tool('train').main([DEMO, '--work-dir', work] + tiny_cfg_argv(data_root=dst))
    assert runner.epoch == 1 and osp.isfile(osp.join(work, 'epoch_1.pth'))
    metrics = load_tool('test').main([DEMO, osp.join(work, 'epoch_1.pth'), '--work-dir', work] +
                                     tiny_cfg_argv(data_root=dst))
    assert 0.0 <= metrics['volume/cpm'] <= 1.0 and 'volume/sens@0.125' in metrics
    out = capsys.readouterr().out
    assert '3D FROC per volume' in out and 'FPs per volume' in out and "lesions' key slices" in out
    with open(osp.join(work, 'volume_froc.json')) as f:
        report = json.load(f)
    with open(osp.join(dst, 'volumes.json')) as f:
        index = json.load(f)
    test_cases = [c for c in index['cases'] if c['split'] == 'test']
    assert report['num_volumes'] == len(test_cases)
    assert report['num_lesions'] == sum(len(c['lesions']) for c in test_cases)


def test_inference_reads_the_volume_configs_slice_settings():
    from mmdet3dctx.apis import read_config
    from mmdet3dctx.inference.transforms import inference_pipeline
    cfg = read_config(FINETUNE, {'num_slices': 3, 'input_slice_interval': 1.5})
    (load, ) = [t for t in inference_pipeline(cfg.test_pipeline) if t['type'].startswith('Load')]
    assert load == dict(type='LoadCTVolumeSlices', num_slices=3, input_slice_interval=1.5, window=(-1024, 2050),
                        out_range=(-50, 205))


@pytest.mark.slow
def test_detect_correct_retrain_loop(tmp_path, capsys, load_tool):
    """docs/own_data.md's loop on generated volumes: prepare, train, detect in a new study (tools/infer.py),
    correct its label volume as a person would in 3D Slicer (delete the findings that are not the lesion, paint the
    lesion's voxels), add the study to the dataset, prepare again (the other cases are reused) and train on from
    the first checkpoint; the corrected study is then a training case with its lesion."""
    import nibabel as nib
    import numpy as np

    from mmdet3dctx.testing.synthetic_volumes import make_synthetic_msd
    src = make_synthetic_msd(str(tmp_path / 'src'), num_cases=5, seed=0, size=64, num_lesions=(2, 1, 1, 2, 1))
    task = src['root']
    # case_004 is the new study: out of the dataset, its true label kept aside to stand for the person's eyes
    with open(osp.join(task, 'dataset.json')) as f:
        meta = json.load(f)
    new = meta['training'].pop()
    assert new['label'] == './labelsTr/case_004.nii.gz'
    truth = nib.load(osp.join(task, new['label']))
    truth_lesion = np.asanyarray(truth.dataobj) == 2
    os.remove(osp.join(task, new['label']))
    with open(osp.join(task, 'dataset.json'), 'w') as f:
        json.dump(meta, f)
    split = osp.join(str(tmp_path), 'split.json')
    with open(split, 'w') as f:
        json.dump({'case_000': 'train', 'case_001': 'train', 'case_002': 'val', 'case_003': 'test',
                   'case_004': 'train'}, f)
    dst = str(tmp_path / 'prepared')
    prepare = load_tool('prepare_volumes')
    prepare_args = [task, '--out', dst, '--lesion-labels', '2', '--split-file', split, '--no-progress']
    assert prepare.main(prepare_args) == 0
    work = str(tmp_path / 'round1')
    load_tool('train').main([DEMO, '--work-dir', work] + tiny_cfg_argv(data_root=dst))
    ckpt = osp.join(work, 'epoch_1.pth')

    # detect in the new study; every finding is kept (an untrained model scores low)
    out = str(tmp_path / 'corrections' / 'case_004')
    load_tool('infer').main([DEMO, ckpt, osp.join(task, new['image']), '--out-dir', out, '--score-thr', '0.0'] +
                            tiny_cfg_argv(data_root=dst))
    assert osp.isfile(osp.join(out, 'findings.nii.gz')) and osp.isfile(osp.join(out, 'report.html'))
    from mmdet3dctx.io import nifti_in_volume_layout
    found = nifti_in_volume_layout(nib.load(osp.join(out, 'findings.nii.gz')), as_float=False)[0]
    image = nifti_in_volume_layout(nib.load(osp.join(task, new['image'])))[0]
    assert found.shape == image.shape  # the findings lie on the study's grid, as Slicer shows them over it
    # the correction on the study's grid: the findings deleted, the lesion painted with its label value 2
    labels = np.zeros(truth_lesion.shape, np.uint8)
    labels[truth_lesion] = 2
    nib.save(nib.Nifti1Image(labels, truth.affine), osp.join(task, new['label']))
    meta['training'].append(new)
    with open(osp.join(task, 'dataset.json'), 'w') as f:
        json.dump(meta, f)
    cache = osp.join(dst, 'cache', 'case_000.npy')
    before = os.stat(cache).st_mtime_ns
    assert prepare.main(prepare_args) == 0
    assert os.stat(cache).st_mtime_ns == before  # the cases already prepared are reused
    with open(osp.join(dst, 'volumes.json')) as f:
        (case, ) = [c for c in json.load(f)['cases'] if c['case_id'] == 'case_004']
    assert case['split'] == 'train' and len(case['lesions']) == 1

    runner = load_tool('train').main([DEMO, '--work-dir', str(tmp_path / 'round2')] +
                                     tiny_cfg_argv(data_root=dst, load_from=ckpt))
    assert runner.epoch == 1
