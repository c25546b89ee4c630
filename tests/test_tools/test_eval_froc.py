"""tools/eval_froc.py on a small DeepLesion tree written in the test: formats, table, files, errors as the command
line gives them (the readers themselves: tests/test_evaluation/test_detection_results.py)."""
import csv
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'eval_froc.py')
COLUMNS = ('File_name', 'Patient_index', 'Study_index', 'Series_ID', 'Key_slice_index', 'Measurement_coordinates',
           'Bounding_boxes', 'Lesion_diameters_Pixel_', 'Normalized_lesion_location', 'Coarse_lesion_type',
           'Possibly_noisy', 'Slice_range', 'Spacing_mm_px_', 'Image_size', 'DICOM_windows', 'Patient_gender',
           'Patient_age', 'Train_Val_Test')


@pytest.fixture
def tool(load_tool):
    return load_tool('eval_froc')


def _fmt(values):
    return ', '.join(f'{v:g}' for v in values)


def dl_row(patient, key, box, lesion_type, long_mm, interval, split=3, noisy=0):
    """One DL_info.csv row; ``box`` is 0-based (written 1-based), pixel spacing 0.8 mm."""
    x1, y1, x2, y2 = [v + 1 for v in box]
    return {
        'File_name': f'{patient:06d}_01_01_{key:03d}.png', 'Patient_index': patient, 'Study_index': 1,
        'Series_ID': 1, 'Key_slice_index': key, 'Measurement_coordinates': _fmt([x1, y1, x2, y2, x1, y2, x2, y1]),
        'Bounding_boxes': _fmt([x1, y1, x2, y2]), 'Lesion_diameters_Pixel_': _fmt([long_mm / 0.8, 5]),
        'Normalized_lesion_location': '0.5, 0.5, 0.5', 'Coarse_lesion_type': lesion_type,
        'Possibly_noisy': noisy, 'Slice_range': '1, 40', 'Spacing_mm_px_': f'0.8, 0.8, {interval:g}',
        'Image_size': '512, 512', 'DICOM_windows': '-175, 275', 'Patient_gender': 'F', 'Patient_age': 60,
        'Train_Val_Test': split,
    }


A, B, C, D = [0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9], [50, 50, 59, 59]
FAR = [200, 200, 209, 209]
IMG0, IMG1 = '000001_01_01_010.png', '000002_01_01_020.png'
#: The walk of test_froc: FP/img after each detection 0, .5, 1, 1, 1, 1.5, 1.5, 2; A, C, B hit at ranks 1, 4, 7.
DETS = [(IMG0, A, .9), (IMG1, FAR, .8), (IMG0, FAR, .7), (IMG1, C, .6), (IMG1, [1, 1, 9, 9], .5),
        (IMG0, FAR, .4), (IMG0, B, .3), (IMG1, FAR, .2)]


@pytest.fixture
def tree(tmp_path):
    """A DeepLesion root: two test key slices (4 lesions), a noisy lesion, a noisy-only slice, a val slice."""
    rows = [dl_row(1, 10, A, 4, 8, 1.25), dl_row(1, 10, B, 5, 20, 1.25), dl_row(1, 10, [300, 300, 320, 320], 2,
                                                                               10, 1.25, noisy=1),
            dl_row(2, 20, C, 4, 35, 5), dl_row(2, 20, D, 1, 10, 5),
            dl_row(3, 30, A, 6, 12, 5, noisy=1),  # only noisy lesions: not an image of the evaluation
            dl_row(4, 15, A, 6, 12, 2, split=2)]
    with open(tmp_path / 'DL_info.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def write_csv(path, dets=DETS, header=True):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        if header:
            w.writerow(['file_name', 'x1', 'y1', 'x2', 'y2', 'score'])
        for name, box, score in dets:
            w.writerow([name] + box + [score])
    return str(path)


def run(tool, argv, capsys):
    code = tool.main(argv)
    return code, capsys.readouterr().out


def table_rows(out):
    return {line.split()[0]: line.split()[1:] for line in out.splitlines() if line and not line.startswith(' ')}


EXPECTED = ['25.00', '50.00', '75.00', '75.00', '75.00', '75.00', '56.25']


def test_csv_results_table_and_subgroups(tree, capsys, tool):
    res = write_csv(tree / 'run.csv')
    code, out = run(tool, ['--results', res, '--data-root', str(tree), '--no-map'], capsys)
    assert code == 0
    assert '2 key slices, 4 lesions' in out
    assert table_rows(out)['run'] == EXPECTED + ['-']
    lines = {line.split('  ')[0].strip(): line.split() for line in out.splitlines()}
    assert lines['lesion_type: liver'][-8:] == ['2', '50.00', '100.00', '100.00', '100.00', '100.00', '100.00',
                                                '87.50']
    assert lines['diameter: 10-30mm'][-8:] == ['2', '0.00', '0.00', '50.00', '50.00', '50.00', '50.00', '25.00']
    assert lines['slice_interval: <=2mm'][-1] == '75.00' and lines['slice_interval: 5mm'][-1] == '37.50'


def test_formats_agree_and_runs_are_compared(tree, capsys, tool):
    torch = pytest.importorskip('torch')
    csv_path = write_csv(tree / 'a.csv', header=False)
    json_path = tree / 'b.json'
    json_path.write_text(json.dumps([dict(file_name=n, x1=b[0], y1=b[1], x2=b[2], y2=b[3], score=s)
                                     for n, b, s in DETS]))
    samples = []
    for name, info in ((IMG0, 'Images_png/000001_01_01/010.png'), (IMG1, 'Images_png/000002_01_01/020.png')):
        boxes = [(b, s) for n, b, s in DETS if n == name]
        samples.append(dict(img_path=osp.join('/data', info), img_id=len(samples),
                            pred_instances=dict(bboxes=torch.tensor([b for b, _ in boxes], dtype=torch.float32),
                                                scores=torch.tensor([s for _, s in boxes]),
                                                labels=torch.zeros(len(boxes), dtype=torch.long))))
    with open(tree / 'c.pkl', 'wb') as f:
        pickle.dump(samples, f)
    out_dir = tree / 'cmp'
    code, out = run(tool, ['--results', csv_path, str(json_path), str(tree / 'c.pkl'), '--data-root',
                           str(tree), '--labels', 'csv', 'json', 'pkl', '--out-dir', str(out_dir), '--no-map'],
                    capsys)
    assert code == 0
    rows = table_rows(out)
    assert rows['csv'] == rows['json'] == rows['pkl'] == EXPECTED + ['-']
    for label in ('csv', 'json', 'pkl'):
        rep = json.loads((out_dir / f'{label}.froc.json').read_text())
        assert rep['sensitivity'] == [.25, .5, .75, .75, .75, .75] and rep['avg_0.5_4'] == 0.5625
        assert rep['num_images'] == 2 and rep['num_lesions'] == 4
    assert (out_dir / 'froc.png').read_bytes()[:4] == b'\x89PNG'
    # Existing outputs are never replaced silently.
    with pytest.raises(SystemExit, match='exist.*--overwrite'):
        tool.main(['--results', csv_path, '--data-root', str(tree), '--labels', 'csv', '--out-dir',
                   str(out_dir), '--no-map'])
    assert tool.main(['--results', csv_path, '--data-root', str(tree), '--labels', 'csv', '--out-dir',
                      str(out_dir), '--no-map', '--overwrite']) == 0


def test_options_and_images_without_detections(tree, capsys, tool):
    res = write_csv(tree / 'only0.csv', [d for d in DETS if d[0] == IMG0])
    code, out = run(tool, ['--results', res, '--data-root', str(tree), '--no-map', '--no-subgroups',
                           '--fp-levels', '1', '2', '--avg-levels', '1', '2'], capsys)
    # Image 1 has no detection but counts: FP/img .5 after rank 2, 1 after rank 3; A and B hit (2 of 4).
    assert code == 0 and table_rows(out)['only0'] == ['50.00', '50.00', '50.00', '-']
    assert 'sub-groups' not in out


def test_val_split_has_no_lesion_type_table(tree, capsys, tool):
    res = write_csv(tree / 'val.csv', [('000004_01_01_015.png', A, .9)])
    code, out = run(tool, ['--results', res, '--data-root', str(tree), '--split', 'val', '--no-map'], capsys)
    assert code == 0 and table_rows(out)['val'][:6] == ['100.00'] * 6
    assert 'lesion_type' not in out and 'diameter: 10-30mm' in out


def test_unknown_image_and_malformed_rows_exit_nonzero(tree, capsys, tool):
    # A detection on a noisy-only slice (not an evaluated image) and on a val slice.
    res = write_csv(tree / 'bad.csv', DETS + [('000003_01_01_030.png', A, .5), ('000004_01_01_015.png', A, .5)])
    with pytest.raises(SystemExit, match=r'bad\.csv: 2 image\(s\) not in the ground truth split: '
                       r'000003_01_01_030\.png, 000004_01_01_015\.png'):
        tool.main(['--results', res, '--data-root', str(tree)])
    (tree / 'short.csv').write_text('file_name,x1,y1,x2,y2,score\n' + IMG0 + ',1,2,3,4,0.5\n' + IMG0 + ',1,2,3\n')
    with pytest.raises(SystemExit, match=r'^error: .*short\.csv, row 3: expected 6 cells'):
        tool.main(['--results', str(tree / 'short.csv'), '--data-root', str(tree)])
    with pytest.raises(SystemExit, match='results file not found'):
        tool.main(['--results', str(tree / 'nope.csv'), '--data-root', str(tree)])
    with pytest.raises(SystemExit, match='no annotation file'):
        tool.main(['--results', res, '--data-root', str(tree / 'empty')])


def test_command_line_exit_status(tree):
    # One real process (the others call main() in-process): a clear message on stderr, non-zero status.
    res = write_csv(tree / 'run.csv', DETS + [('999999_01_01_001.png', A, .5)])
    env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout's package, as an installed one would be imported
    proc = subprocess.run([sys.executable, TOOL, '--results', res, '--data-root', str(tree), '--no-map'],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f'error: {res}: 1 image(s) not in the ground truth split: 999999_01_01_001.png'
    assert proc.stdout == ''


def test_prepared_json_gives_the_same_table(tree, capsys, tool):
    coco = pytest.importorskip('mmdet3dctx.datasets.deeplesion_coco')
    from mmdet3dctx.datasets.dl_info import group_key_slices, read_dl_info
    infos = group_key_slices(read_dl_info(str(tree / 'DL_info.csv')))
    for i, info in enumerate(infos):
        info['img_id'] = i + 1
    (tree / 'annotations').mkdir()
    test = [info for info in infos if info['split'] == 3]
    (tree / 'annotations' / 'deeplesion_test.json').write_text(json.dumps(coco.key_slices_to_coco(test)))
    res = write_csv(tree / 'run.csv')
    code, out = run(tool, ['--results', res, '--ann-file', str(tree / 'annotations' / 'deeplesion_test.json'),
                           '--no-map'], capsys)
    assert code == 0 and table_rows(out)['run'] == EXPECTED + ['-']
    assert '2 key slices, 4 lesions' in out


def test_map_column(tree, capsys, tool):
    pytest.importorskip('pycocotools')
    res = write_csv(tree / 'run.csv')
    code, out = run(tool, ['--results', res, '--data-root', str(tree), '--no-subgroups'], capsys)
    assert code == 0
    value = float(table_rows(out)['run'][-1])
    assert 0 < value <= 100


def test_on_a_generated_synthetic_tree(tmp_path, capsys, tool):
    synthetic = pytest.importorskip('mmdet3dctx.testing')
    from mmdet3dctx.datasets.dl_info import load_key_slices
    root = synthetic.make_synthetic_deeplesion(str(tmp_path / 'DeepLesion'), num_patients=12, seed=0, image_size=64)
    infos = load_key_slices(osp.join(root, 'DL_info.csv'), split='val')
    assert len(infos) >= 2
    # Every lesion found with a high score, one low-scored FP in a corner per image; the first image missed.
    missed = infos[0]
    dets = [(info['file_name'], [round(v, 4) for v in ins['bbox']], .9) for info in infos[1:]
            for ins in info['instances']]
    dets += [(info['file_name'], [0, 0, 2, 2], .1) for info in infos]
    res = write_csv(tmp_path / 'syn.csv', dets)
    code, out = run(tool, ['--results', res, '--data-root', root, '--split', 'val', '--no-map'], capsys)
    assert code == 0
    total = sum(len(info['instances']) for info in infos)
    assert f'{len(infos)} key slices, {total} lesions' in out
    sens = 100 * (total - len(missed['instances'])) / total
    assert table_rows(out)['syn'][:7] == [f'{sens:.2f}'] * 7
