"""tools/compare_operators.py: the plan of runs, resuming, refusing foreign work dirs, Slurm jobs, the tables;
end to end on a tiny synthetic tree (slow)."""
import json
import os
import os.path as osp
import sys

import pytest

from mmdet3dctx.evaluation.deeplesion_eval import dump_report
from mmdet3dctx.apis.operator_runs import (ComparisonError, commands, demo_options, execute, plan_runs,
                                            prepare_work_dir, slurm_script)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')
CONFIGS = osp.join(ROOT, 'configs', 'deeplesion')


def fake_report(avg):
    return {'fp_levels': [0.5, 1, 2, 4, 8, 16], 'sensitivity': [avg] * 6, 'avg_levels': [0.5, 1, 2, 4],
            'avg_0.5_4': avg, 'curve': {'fp_per_image': [0.1, 16.], 'sensitivity': [avg / 2, avg]}}


class FakeTools:
    """Stands in for ``python -m mmdet3dctx.apis.cli train|test``: writes what they would (checkpoint, froc.json)."""

    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def __call__(self, argv, log_file):
        self.calls.append(argv)
        assert argv[1:3] == ['-m', 'mmdet3dctx.apis.cli'] and osp.basename(log_file) == f'{argv[3]}.log'
        tool, work_dir = argv[3], argv[argv.index('--work-dir') + 1]
        if (tool, work_dir) in self.fail:
            with open(log_file, 'w') as f:
                f.write('Traceback: something broke\n')
            return 1
        os.makedirs(work_dir, exist_ok=True)
        if tool == 'train':
            ckpt = osp.join(work_dir, 'epoch_2.pth')
            open(ckpt, 'w').close()
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(ckpt)
        else:
            seed = int(argv[-1].split('=')[1])
            dump_report(fake_report(.5 + .1 * seed + (.2 if 'a3d' in work_dir else 0.)),
                        osp.join(work_dir, 'froc.json'))
        return 0


def test_plan_deeplesion_configs_and_demo_options(tmp_path):
    runs = plan_runs(['nofusion', 'a3d'], [3, 7], [0, 1], str(tmp_path), config_dir=CONFIGS,
                     data_root='/data/DL', cfg_options=['train_cfg.max_epochs=2'])
    assert [r.name for r in runs] == ['nofusion_3slice/seed0', 'nofusion_3slice/seed1', 'a3d_3slice/seed0',
                                      'a3d_3slice/seed1', 'nofusion_7slice/seed0', 'nofusion_7slice/seed1',
                                      'a3d_7slice/seed0', 'a3d_7slice/seed1']
    assert runs[2].config == osp.join(CONFIGS, 'a3d_3slice.py')
    assert runs[2].cfg_options == ['data_root=/data/DL', 'train_cfg.max_epochs=2', 'randomness.seed=0']
    assert runs[2].work_dir == osp.join(str(tmp_path), 'a3d_3slice', 'seed0')
    assert demo_options('i3d', 3) == [
        'model.backbone.context_conv._delete_=True', 'model.backbone.context_conv.type=I3DConv', 'num_slices=3']
    assert demo_options('alignshift', 7)[-2:] == ['num_slices=7', 'input_slice_interval=None']
    demo = plan_runs(['tsm'], [7], [0], str(tmp_path), demo=True, demo_config=DEMO)
    assert demo[0].config == DEMO and demo[0].cfg_options == demo_options('tsm', 7) + ['randomness.seed=0']
    with pytest.raises(ComparisonError, match='unknown operator'):
        plan_runs(['c3d'], [7], [0], str(tmp_path), config_dir=CONFIGS)
    with pytest.raises(ComparisonError, match=r'a3d_5slice.py not found'):
        plan_runs(['a3d'], [5], [0], str(tmp_path), config_dir=CONFIGS)


def test_demo_options_make_a_consistent_config():
    import argparse

    from mmengine.config import DictAction

    from mmdet3dctx.apis import read_config
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)  # as the train command reads them
    for op, n in (('alignshift', 3), ('p3d', 7)):
        cfg = read_config(DEMO, parser.parse_args(['--cfg-options'] + demo_options(op, n)).cfg_options)
        assert cfg.model.backbone.context_conv == dict(type=f'{"AlignShift" if op == "alignshift" else "P3D"}Conv')
        assert cfg.model.backbone.num_slices == cfg.model.neck.reduction.num_slices == n
        for loader in (cfg.train_dataloader, cfg.test_dataloader):
            assert loader.dataset.pipeline[0].type == 'LoadDeepLesionSlices'
            assert loader.dataset.pipeline[0].num_slices == n
            assert loader.dataset.pipeline[0].input_slice_interval == (None if op == 'alignshift' else 2.0)


def test_runs_resume_and_skip_what_is_done(tmp_path):
    work = str(tmp_path / 'cmp')
    runs = plan_runs(['nofusion', 'a3d'], [7], [0, 1], work, config_dir=CONFIGS)
    prepare_work_dir(work, runs)
    tools = FakeTools(fail={('test', osp.join(runs[3].work_dir, 'test'))})
    messages = []
    failed = execute(runs, 'py', call=tools, log=messages.append)
    assert [r.name for r in failed] == ['a3d_7slice/seed1']
    assert messages[-1].endswith('a3d_7slice/seed1: test FAILED; the end of '
                                 f'{runs[3].work_dir}/test.log:\nTraceback: something broke\n')
    assert [c[3] for c in tools.calls] == ['train', 'test'] * 4
    assert tools.calls[0] == ['py', '-m', 'mmdet3dctx.apis.cli', 'train', osp.join(CONFIGS, 'nofusion_7slice.py'),
                              '--work-dir', runs[0].work_dir, '--cfg-options', 'randomness.seed=0']
    assert tools.calls[1] == ['py', '-m', 'mmdet3dctx.apis.cli', 'test', osp.join(CONFIGS, 'nofusion_7slice.py'),
                              osp.join(runs[0].work_dir, 'epoch_2.pth'), '--work-dir',
                              osp.join(runs[0].work_dir, 'test'), '--cfg-options', 'randomness.seed=0']
    assert [r.state() for r in runs] == ['done', 'done', 'done', 'trained']
    # the same command again: only the failed test runs
    tools = FakeTools()
    assert execute(runs, 'py', call=tools, log=lambda s: None) == []
    assert [(c[3], c[5]) for c in tools.calls] == [('test', osp.join(runs[3].work_dir, 'epoch_2.pth'))]
    # an interrupted training (a checkpoint, not finished) resumes
    run = plan_runs(['tsm'], [7], [0], work, config_dir=CONFIGS)[0]
    prepare_work_dir(work, [run])
    open(osp.join(run.work_dir, 'last_checkpoint'), 'w').close()
    assert run.state() == 'partial'
    tools = FakeTools()
    execute([run], 'py', call=tools, log=lambda s: None)
    assert '--resume' in tools.calls[0] and run.state() == 'done'
    with open(osp.join(work, 'compare_operators.json')) as f:
        assert sorted(json.load(f)['runs']) == ['a3d_7slice/seed0', 'a3d_7slice/seed1', 'nofusion_7slice/seed0',
                                                 'nofusion_7slice/seed1', 'tsm_7slice/seed0']


def test_foreign_or_changed_work_dirs_are_refused(tmp_path):
    work = tmp_path / 'mine'
    work.mkdir()
    (work / 'notes.txt').write_text('my results')
    runs = plan_runs(['a3d'], [7], [0], str(work), config_dir=CONFIGS)
    with pytest.raises(ComparisonError, match=r'holds files not made by tools/compare_operators.py'):
        prepare_work_dir(str(work), runs)
    assert os.listdir(work) == ['notes.txt']
    work = str(tmp_path / 'cmp')
    prepare_work_dir(work, runs := plan_runs(['a3d'], [7], [0], work, config_dir=CONFIGS))
    prepare_work_dir(work, runs)  # same settings: fine
    other = plan_runs(['a3d'], [7], [0], work, config_dir=CONFIGS, data_root='/elsewhere')
    with pytest.raises(ComparisonError, match=r'a3d_7slice/seed0 holds a run made with other settings \(cfg_options'):
        prepare_work_dir(work, other)
    stray = plan_runs(['tsm'], [7], [0], work, config_dir=CONFIGS)
    os.makedirs(stray[0].work_dir)
    open(osp.join(stray[0].work_dir, 'epoch_1.pth'), 'w').close()
    with pytest.raises(ComparisonError, match='holds files but no run.json'):
        prepare_work_dir(work, stray)


def test_printed_commands_and_slurm_jobs(tmp_path):
    runs = plan_runs(['a3d'], [7], [0], 'w', config_dir='configs/deeplesion')
    # commands of the installed package (no file of a checkout): they run wherever mmdet3dctx is installed
    assert commands(runs) == [
        'python -m mmdet3dctx.apis.cli train configs/deeplesion/a3d_7slice.py --work-dir w/a3d_7slice/seed0 '
        '--resume --cfg-options randomness.seed=0 && python -m mmdet3dctx.apis.cli test '
        'configs/deeplesion/a3d_7slice.py "$(cat w/a3d_7slice/seed0/last_checkpoint)" --work-dir '
        'w/a3d_7slice/seed0/test --cfg-options randomness.seed=0']
    script = slurm_script(runs, 'gpu', gpus=4)
    assert script.splitlines()[-2:] == [
        'srun -p gpu --job-name=cmp_a3d_7s_0 --gres=gpu:4 --ntasks=4 --ntasks-per-node=4 '
        '--cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 ${SRUN_ARGS:-} python -u -m mmdet3dctx.apis.cli '
        'train configs/deeplesion/a3d_7slice.py --work-dir w/a3d_7slice/seed0 --launcher=slurm --resume '
        '--cfg-options randomness.seed=0 && \\',
        '    srun -p gpu --job-name=cmp_a3d_7s_0_test --gres=gpu:1 --ntasks=1 ${SRUN_ARGS:-} python -u -m '
        'mmdet3dctx.apis.cli test configs/deeplesion/a3d_7slice.py "$(cat w/a3d_7slice/seed0/last_checkpoint)" '
        '--work-dir w/a3d_7slice/seed0/test --cfg-options randomness.seed=0']
    assert slurm_script(runs, 'gpu', gpus=16).splitlines()[-2].startswith(
        'srun -p gpu --job-name=cmp_a3d_7s_0 --gres=gpu:8 --ntasks=16 --ntasks-per-node=8 ')


def test_tool_collects_tables_and_plot(tmp_path, capsys, load_tool):
    pytest.importorskip('matplotlib')
    compare_operators = load_tool('compare_operators')
    work = str(tmp_path / 'cmp')
    runs = plan_runs(['nofusion', 'a3d'], [7], [0, 1], work, config_dir=CONFIGS)
    prepare_work_dir(work, runs)
    execute(runs[:3], 'py', call=FakeTools(), log=lambda s: None)
    argv = ['--operators', 'nofusion', 'a3d', '--slices', '7', '--seeds', '2', '--work-dir', work, '--collect']
    assert compare_operators.main(argv) == 0
    out = capsys.readouterr().out
    assert 'No fusion (2 seeds)' in out and 'A3D (1 seed)' in out and 'Not finished (1): a3d_7slice/seed1' in out
    with open(osp.join(work, 'operator_comparison.json')) as f:
        summary = json.load(f)
    assert summary['rows'][0]['mean'][-1] == pytest.approx(.55) and len(summary['runs']) == 3
    assert summary['rows'][1]['paired']['mean'][-1] == pytest.approx(.2)
    assert osp.getsize(osp.join(work, 'operator_comparison_froc.png')) > 0
    assert open(osp.join(work, 'operator_comparison.txt')).read().startswith('DeepLesion')
    # --collect only reads: no folder for a run that was never started
    assert compare_operators.main(argv[:1] + ['tsm'] + argv[1:]) == 0
    assert 'Not finished (3): tsm_7slice/seed0, tsm_7slice/seed1' in capsys.readouterr().out
    assert not osp.exists(osp.join(work, 'tsm_7slice'))
    # a foreign work dir: a clear error, exit status 2, nothing written
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'x').write_text('')
    assert compare_operators.main(['--work-dir', str(foreign), '--collect']) == 2
    assert 'not made by tools/compare_operators.py' in capsys.readouterr().err
    # --dry-run prints the commands of the unfinished runs and writes nothing
    assert compare_operators.main(argv[:-1] + ['--dry-run']) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and 'a3d_7slice/seed1' in lines[0] and '--resume' in lines[0]
    assert lines[0].startswith(f'{sys.executable} -m mmdet3dctx.apis.cli train ')


def test_slurm_launcher_writes_jobs(tmp_path, capsys, load_tool):
    compare_operators = load_tool('compare_operators')
    work = str(tmp_path / 'cmp')
    assert compare_operators.main(['--operators', 'a3d', '--slices', '3', '7', '--work-dir', work,
                                   '--data-root', '/data/DL', '--launcher', 'slurm', '--partition', 'gpu']) == 0
    script = open(osp.join(work, 'jobs.sh')).read()
    assert script.count('python -u -m mmdet3dctx.apis.cli train ') == 2 and 'data_root=/data/DL' in script
    assert script.count('--launcher=slurm') == 2 and script.count('python -u -m mmdet3dctx.apis.cli test ') == 2
    assert 'no run has finished yet' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        compare_operators.parse_args(['--launcher', 'slurm'])


#: the demo model shrunk to seconds per epoch on 64 px slices (as in test_train_demo.py), one epoch
TINY_OPTIONS = [
    'model.backbone.block_config=(1,1,1,)', 'model.backbone.growth_rate=8', 'model.backbone.num_init_features=16',
    'model.neck.neck.in_channels=[24,20,18]', 'model.neck.neck.out_channels=32', 'model.rpn_head.in_channels=32',
    'model.rpn_head.feat_channels=32', 'model.roi_head.bbox_roi_extractor.out_channels=32',
    'model.roi_head.mask_roi_extractor.out_channels=32', 'model.roi_head.bbox_head.in_channels=32',
    'model.roi_head.bbox_head.fc_out_channels=32', 'model.roi_head.mask_head.in_channels=32',
    'model.roi_head.mask_head.conv_out_channels=8', 'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1']


@pytest.mark.slow
def test_end_to_end_on_a_tiny_synthetic_tree(tmp_path, capsys, load_tool, monkeypatch):
    """Two operators at 3 slices (the demo model's slice count changed by options), one seed, one epoch of the
    shrunk demo model on 64 px slices; each training and test in its own process."""
    pytest.importorskip('mmdet')
    import subprocess

    monkeypatch.setenv('PYTHONPATH', ROOT)  # the child processes import this checkout's package

    compare_operators = load_tool('compare_operators')
    root = str(tmp_path / 'tree')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_synthetic_deeplesion.py'), '--out', root,
                    '--num-patients', '8', '--seed', '1', '--image-size', '64'], check=True)
    work = str(tmp_path / 'cmp')
    argv = ['--demo', '--operators', 'nofusion', 'a3d', '--slices', '3', '--work-dir', work, '--data-root', root,
            '--cfg-options'] + TINY_OPTIONS
    assert compare_operators.main(argv) == 0
    out = capsys.readouterr().out
    for name in ('nofusion_3slice', 'a3d_3slice'):
        with open(osp.join(work, name, 'seed0', 'test', 'froc.json')) as f:
            report = json.load(f)
        assert report['num_images'] > 0 and len(report['score_thresholds']) == 6
    assert 'A3D (1 seed)' in out and 'Difference to No fusion' in out and 'published' in out
    assert osp.isfile(osp.join(work, 'operator_comparison_froc.png'))
    # the same command again: every run is done, nothing is trained
    assert compare_operators.main(argv) == 0
    assert out.count(': training (output in ') == 2 and ': training' not in capsys.readouterr().out
    assert 'Epoch(train)' in open(osp.join(work, 'a3d_3slice', 'seed0', 'train.log')).read()
