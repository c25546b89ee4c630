"""tools/prepare_volumes.py: the command line a user types prepares a generated Decathlon task, prints the summary,
resumes, and turns bad input into one error line naming the file."""
import json
import os.path as osp

import pytest

from mmdet3dctx.testing.synthetic_volumes import make_synthetic_luna, make_synthetic_msd


@pytest.fixture
def tool(load_tool):
    return load_tool('prepare_volumes')


def test_prepares_resumes_and_refuses_another_source(tmp_path, tool, capsys):
    gt = make_synthetic_msd(str(tmp_path / 'src'), num_cases=4, seed=2)
    out = str(tmp_path / 'out')
    argv = [gt['root'], '--out', out, '--lesion-labels', '2', '--split', '0.5', '0.25', '0.25', '--seed', '3',
            '--negative-ratio', '1', '--no-progress']
    assert tool.main(argv) == 0
    printed = capsys.readouterr().out
    assert 'msd source, split seeded' in printed and '4 case(s) read, 0 unchanged' in printed
    assert 'skipped ' in printed and '1 test image(s) without labels' in printed
    index = json.load(open(osp.join(out, 'volumes.json')))
    assert index['split'] == dict(method='seeded', seed=3, fractions=[0.5, 0.25, 0.25])
    assert sorted(c['split'] for c in index['cases']) == ['test', 'train', 'train', 'val']
    assert index['negative_ratio'] == 1.0
    assert tool.main(argv[:-1]) == 0  # with the progress bar
    assert '0 case(s) read, 4 unchanged' in capsys.readouterr().out
    luna = make_synthetic_luna(str(tmp_path / 'luna'), num_cases=1, seed=0, num_lesions=(1, ))
    with pytest.raises(SystemExit, match=r'error: .*volumes.json was prepared from .*src.*--overwrite'):
        tool.main([luna['root'], '--out', out, '--no-progress'])
    assert tool.main([luna['root'], '--out', out, '--overwrite', '--format', 'boxes', '--no-progress']) == 0
    assert json.load(open(osp.join(out, 'volumes.json')))['source']['format'] == 'boxes'


def test_split_file_and_mutually_exclusive_split_options(tmp_path, tool, capsys):
    gt = make_synthetic_msd(str(tmp_path / 'src'), num_cases=2, seed=0, num_lesions=(1, ), num_test=0)
    split = tmp_path / 'split.json'
    split.write_text(json.dumps({'case_000': 'train', 'case_001': 'test'}))
    out = str(tmp_path / 'out')
    assert tool.main([gt['root'], '--out', out, '--lesion-labels', '2', '--split-file', str(split),
                      '--no-progress']) == 0
    index = json.load(open(osp.join(out, 'volumes.json')))
    assert [c['split'] for c in index['cases']] == ['train', 'test'] and index['split']['method'] == 'file'
    with pytest.raises(SystemExit):
        tool.main([gt['root'], '--out', out, '--split', '1', '0', '0', '--split-file', str(split)])
    assert 'not allowed with argument' in capsys.readouterr().err


def test_unknown_source_is_one_error_line(tmp_path, tool):
    (tmp_path / 'src').mkdir()
    (tmp_path / 'src' / 'notes.txt').write_text('nothing here')
    with pytest.raises(SystemExit, match=r'error: .*src: cannot tell the format \(no dataset.json, table or '
                       r'DICOM SEG\)'):
        tool.main([str(tmp_path / 'src'), '--out', str(tmp_path / 'out')])
