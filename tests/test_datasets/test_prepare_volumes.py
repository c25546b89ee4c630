"""Preparing volume datasets from generated data in each format: the index matches the generator's ground truth
(counts, centres, diameters, key slices, boxes), its layout is the documented one, the cache holds the volume and
lesion map, splits keep patients whole, negatives follow the ratio, a second run recomputes nothing."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from mmdet3dctx.datasets import VolumeDatasetError, prepare_volume_dataset
from mmdet3dctx.datasets.volume_index import lesion_slices
from mmdet3dctx.testing.synthetic_volumes import make_synthetic_dicom_seg, make_synthetic_luna, make_synthetic_msd

CASE_KEYS = ['case_id', 'patient_id', 'split', 'image', 'cache', 'lesion_map', 'shape', 'spacing', 'positions',
             'origin', 'direction', 'lesions', 'negative_slices']
LESION_KEYS = {'lesion_id', 'label', 'label_name', 'box_voxels', 'box_lps_mm', 'centre_lps_mm', 'diameter_mm',
               'volume_mm3', 'key_slice', 'slices'}


def load_index(out):
    with open(osp.join(out, 'volumes.json')) as f:
        return json.load(f)


def match(found, truth):
    """Pair each true lesion with the indexed lesion of the nearest centre."""
    pairs = []
    for t in truth:
        d = [np.linalg.norm(np.subtract(f['centre_lps_mm'], t['centroid_lps_mm'])) for f in found]
        pairs.append((found[int(np.argmin(d))], t))
    return pairs


def check_against_truth(index, gt, out, centre_key='centroid_lps_mm', same_voxels=True):
    cases = {c['case_id']: c for c in index['cases']}
    assert sorted(cases) == sorted(t['case_id'] for t in gt['cases'])
    for t in gt['cases']:
        c = cases[t['case_id']]
        assert list(c) == CASE_KEYS
        assert c['shape'] == t['shape'] and c['spacing'] == pytest.approx(t['spacing'])
        np.testing.assert_allclose(c['origin'], t['origin'], atol=1e-3)
        np.testing.assert_allclose(c['positions'], t['positions'], atol=1e-3)
        np.testing.assert_allclose(c['direction'], t['direction'], atol=1e-6)
        hu = np.load(osp.join(out, c['cache']), mmap_mode='r')
        lesion_map = np.load(osp.join(out, c['lesion_map']), mmap_mode='r')
        assert hu.dtype == np.int16 and lesion_map.dtype == np.uint16
        assert hu.shape == lesion_map.shape == tuple(t['shape'])
        assert len(c['lesions']) == len(t['lesions'])
        assert [les['lesion_id'] for les in c['lesions']] == list(range(1, len(t['lesions']) + 1))
        spacing = np.array(c['spacing'])
        for f, g in match(c['lesions'], t['lesions']):
            assert set(f) >= LESION_KEYS
            err = np.abs(np.subtract(f['centre_lps_mm'], g[centre_key]))
            assert np.all(err <= spacing[::-1] + 1e-6), (f['centre_lps_mm'], g[centre_key])  # within a voxel
            assert f['label'] == g['label']
            if same_voxels:
                assert f['box_voxels'] == g['box_voxels']
                assert f['key_slice'] in g['key_slices']
                assert f['diameter_mm'] == pytest.approx(g['diameter_mm'], rel=1e-6)
                assert int((lesion_map == f['lesion_id']).sum()) == g['num_voxels']
            k0, i0, j0, k1, i1, j1 = f['box_voxels']
            assert sorted(map(int, f['slices'])) == list(range(k0, k1))
            areas = [(lesion_map[k] == f['lesion_id']).sum() for k in range(k0, k1)]
            assert areas[f['key_slice'] - k0] == max(areas)
            for k, (x1, y1, x2, y2) in f['slices'].items():
                ys, xs = np.nonzero(lesion_map[int(k)] == f['lesion_id'])
                assert [x1, y1, x2, y2] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.fixture(scope='module')
def msd(tmp_path_factory):
    root = tmp_path_factory.mktemp('msd')
    return make_synthetic_msd(str(root / 'src'), num_cases=4, seed=0)


def tree(root):
    """Every file under ``root`` with its size and modification time."""
    return {osp.join(d, n): (os.stat(osp.join(d, n)).st_size, os.stat(osp.join(d, n)).st_mtime_ns)
            for d, _, names in os.walk(root) for n in names}


def test_msd_matches_the_ground_truth(msd, tmp_path):
    out = str(tmp_path / 'out')
    before = tree(msd['root'])
    summary = prepare_volume_dataset(msd['root'], out, lesion_labels=[2])
    assert tree(msd['root']) == before  # the source is only read
    index = load_index(out)
    assert index['format'] == 'mmdet3dctx-volumes' and index['version'] == 1
    assert index['source'] == dict(format='msd', path=osp.abspath(msd['root']), lesion_labels=[2])
    assert index['split'] == dict(method='seeded', seed=0, fractions=[0.7, 0.15, 0.15])
    assert list(index) == ['format', 'version', 'source', 'split', 'negative_ratio', 'cases']
    check_against_truth(index, msd, out)
    case = next(c for c in index['cases'] if c['lesions'])
    assert case['lesions'][0]['label_name'] == 'tumour' and case['patient_id'] == case['case_id']
    assert case['image'] == osp.join(msd['root'], 'imagesTr', f'{case["case_id"]}.nii.gz')
    # the volume in the cache is the image as read_nifti lays it out
    from mmdet3dctx.io import read_nifti
    vol = read_nifti(case['image'])
    np.testing.assert_array_equal(np.load(osp.join(out, case['cache'])), vol.hu.astype(np.int16))
    assert summary['computed'] == 4 and summary['reused'] == 0
    assert any('imagesTs' in what and '1 test image' in why for what, why in summary['skipped'])
    assert sum(summary['lesion_free_cases'].values()) == 1


def test_msd_all_foreground_labels_need_a_choice(msd, tmp_path):
    with pytest.raises(VolumeDatasetError, match='names several labels.*--lesion-labels'):
        prepare_volume_dataset(msd['root'], str(tmp_path / 'out'))
    with pytest.raises(VolumeDatasetError, match=r'lesion label\(s\) \[5\] not among the labels'):
        prepare_volume_dataset(msd['root'], str(tmp_path / 'out'), lesion_labels=[5])


def test_nnunet_v2_naming(tmp_path):
    gt = make_synthetic_msd(str(tmp_path / 'src'), num_cases=2, seed=1, nnunet_v2=True, num_lesions=(2, 1))
    assert os.path.isfile(osp.join(gt['root'], 'imagesTr', 'case_000_0000.nii.gz'))
    out = str(tmp_path / 'out')
    prepare_volume_dataset(gt['root'], out, lesion_labels=[2])
    index = load_index(out)
    check_against_truth(index, gt, out)
    assert index['cases'][0]['image'].endswith('case_000_0000.nii.gz')
    assert index['cases'][0]['lesions'][0]['label_name'] == 'tumour'


def test_second_run_recomputes_nothing_and_a_changed_case_alone_is_read_again(msd, tmp_path):
    out = str(tmp_path / 'out')
    prepare_volume_dataset(msd['root'], out, lesion_labels=[2])
    cache = osp.join(out, 'cache')
    before = {n: os.stat(osp.join(cache, n)).st_mtime_ns for n in os.listdir(cache)}
    first = load_index(out)
    summary = prepare_volume_dataset(msd['root'], out, lesion_labels=[2])
    assert summary['computed'] == 0 and summary['reused'] == 4
    assert {n: os.stat(osp.join(cache, n)).st_mtime_ns for n in os.listdir(cache)} == before
    assert load_index(out) == first
    # a newer label file: that case only is read again (the source itself is left as it was)
    label = msd['cases'][1]['label']
    st = os.stat(label)
    try:
        os.utime(label, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        summary = prepare_volume_dataset(msd['root'], out, lesion_labels=[2])
    finally:
        os.utime(label, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert summary['computed'] == 1 and summary['reused'] == 3
    changed = msd['cases'][1]['case_id']
    after = {n: os.stat(osp.join(cache, n)).st_mtime_ns for n in os.listdir(cache)}
    assert [n for n in sorted(after) if after[n] != before[n]] == [f'{changed}.json', f'{changed}.npy',
                                                                   f'{changed}_lesions.npy']


def test_refuses_another_source_without_overwrite(msd, tmp_path):
    out = str(tmp_path / 'out')
    prepare_volume_dataset(msd['root'], out, lesion_labels=[2])
    other = str(tmp_path / 'other')
    shutil.copytree(msd['root'], other)
    with pytest.raises(VolumeDatasetError, match=r'volumes.json was prepared from .*src.*not .*other.*--overwrite'):
        prepare_volume_dataset(other, out, lesion_labels=[2])
    summary = prepare_volume_dataset(other, out, lesion_labels=[2], overwrite=True)
    assert summary['computed'] == 4  # other files, other signatures
    assert load_index(out)['source']['path'] == osp.abspath(other)
    with open(osp.join(out, 'volumes.json'), 'w') as f:
        f.write('{"mine": 1}')
    with pytest.raises(VolumeDatasetError, match='not a prepared volume index'):
        prepare_volume_dataset(other, out, lesion_labels=[2])
    with pytest.raises(VolumeDatasetError, match='must not lie inside the source'):
        prepare_volume_dataset(other, osp.join(other, 'prepared'), lesion_labels=[2])


def test_negative_slices_follow_the_ratio(msd, tmp_path):
    out = str(tmp_path / 'out')
    prepare_volume_dataset(msd['root'], out, lesion_labels=[2], negative_ratio=1.5, seed=2)
    index = load_index(out)
    assert index['negative_ratio'] == 1.5
    bearing = [len(lesion_slices(c)) for c in index['cases'] if c['lesions']]
    for c in index['cases']:
        lesioned = set(lesion_slices(c))
        assert not set(c['negative_slices']) & lesioned
        assert len(set(c['negative_slices'])) == len(c['negative_slices'])
        want = round(1.5 * len(lesioned)) if lesioned else round(1.5 * np.mean(bearing))
        assert len(c['negative_slices']) == min(want, c['shape'][0] - len(lesioned))
    prepare_volume_dataset(msd['root'], out, lesion_labels=[2], negative_ratio=0)
    assert all(c['negative_slices'] == [] for c in load_index(out)['cases'])


@pytest.fixture(scope='module')
def dicom(tmp_path_factory):
    root = tmp_path_factory.mktemp('dicom')
    return make_synthetic_dicom_seg(str(root / 'src'), num_studies=4, seed=0, num_lesions=(2, 0, 1, 1),
                                    patients=['p0', 'p1', 'p0', 'p2'])


def test_dicom_seg_matches_the_ground_truth_and_splits_by_patient(dicom, tmp_path):
    out = str(tmp_path / 'out')
    summary = prepare_volume_dataset(dicom['root'], out, split=(0.34, 0.33, 0.33), seed=1)
    index = load_index(out)
    assert index['source']['format'] == 'dicom-seg'
    check_against_truth(index, dicom, out)
    cases = {c['case_id']: c for c in index['cases']}
    assert [c['patient_id'] for c in index['cases']] == ['p0', 'p1', 'p0', 'p2']
    assert cases['study_00']['split'] == cases['study_02']['split']
    assert sorted(c['split'] for c in index['cases'] if c['case_id'] != 'study_02') == ['test', 'train', 'val']
    assert cases['study_01']['lesions'] == [] and cases['study_01']['negative_slices']
    les = cases['study_00']['lesions']
    assert [(x['label'], x['label_name']) for x in les] == [(1, 'lesion'), (1, 'lesion')]  # one segment, two lesions
    assert cases['study_00']['image'] == osp.abspath(osp.join(dicom['root'], 'study_00'))
    assert sorted(summary['cases'].values()) == [1, 1, 2]  # three patients, one per split
    assert summary['cases'][cases['study_00']['split']] == 2


def test_split_file(dicom, tmp_path):
    split = tmp_path / 'split.csv'
    split.write_text('study_00,test\nstudy_01,train\nstudy_02,test\nstudy_03,val\n')
    out = str(tmp_path / 'out')
    prepare_volume_dataset(dicom['root'], out, split_file=str(split))
    index = load_index(out)
    assert index['split']['method'] == 'file'
    assert {c['case_id']: c['split'] for c in index['cases']} == dict(study_00='test', study_01='train',
                                                                       study_02='test', study_03='val')
    split.write_text('study_00,test\nstudy_01,train\nstudy_02,train\nstudy_03,val\n')
    with pytest.raises(VolumeDatasetError, match="puts patient 'p0' in 2 splits"):
        prepare_volume_dataset(dicom['root'], out, split_file=str(split))


def test_dataset_split_from_split_folders(dicom, tmp_path):
    src = tmp_path / 'src'
    for name, split in (('study_00', 'train'), ('study_01', 'train'), ('study_03', 'test')):
        shutil.copytree(osp.join(dicom['root'], name), src / split / name)
    out = str(tmp_path / 'out')
    prepare_volume_dataset(str(src), out)
    index = load_index(out)
    assert index['split']['method'] == 'dataset'
    assert {c['case_id']: c['split'] for c in index['cases']} == dict(study_00='train', study_01='train',
                                                                       study_03='test')


@pytest.mark.parametrize('volume_format,flip', [('mhd', ((False, False, False), (True, True, False))),
                                                ('nrrd', ((True, False, True), )), ('nii.gz', ((False, ) * 3, ))])
def test_sphere_table_matches_the_ground_truth(tmp_path, volume_format, flip):
    gt = make_synthetic_luna(str(tmp_path / 'src'), num_cases=3, seed=0, volume_format=volume_format, flip=flip)
    out = str(tmp_path / 'out')
    prepare_volume_dataset(gt['root'], out)
    index = load_index(out)
    assert index['source'] == dict(format='boxes', path=osp.abspath(gt['root']), lesion_labels=[],
                                   annotations=osp.abspath(gt['annotations']))
    # the table's spheres voxelised: the generator's lesions, voxel for voxel; the diameter is the table's
    check_against_truth(index, gt, out)
    rows = [les['row'] for c in index['cases'] for les in c['lesions']]
    assert sorted(rows) == list(range(2, 2 + len(rows)))


def test_box_table_gives_the_boxes(tmp_path):
    gt = make_synthetic_luna(str(tmp_path / 'src'), num_cases=2, seed=3, table='boxes', num_lesions=(2, 1),
                             flip=((True, False, False), ))
    out = str(tmp_path / 'out')
    prepare_volume_dataset(gt['root'], out)
    index = load_index(out)
    cases = {c['case_id']: c for c in index['cases']}
    for t in gt['cases']:
        c = cases[t['case_id']]
        lesion_map = np.load(osp.join(out, c['lesion_map']))
        assert sorted(les['box_voxels'] for les in c['lesions']) == sorted(x['box_voxels'] for x in t['lesions'])
        for les in c['lesions']:
            k0, i0, j0, k1, i1, j1 = les['box_voxels']
            assert (lesion_map[k0:k1, i0:i1, j0:j1] == les['lesion_id']).all()  # a filled box
            assert (lesion_map == les['lesion_id']).sum() == (k1 - k0) * (i1 - i0) * (j1 - j0)
            assert les['label'] == 1 and les['label_name'] == 'lesion'
