"""The three volume sources: lesions land at their LPS points (NIfTI with a permuted, flipped affine; MetaImage with
reversed axes), the SEG of the toolkit's own findings reads back as its masks, and every bad input is refused with a
message that names the file, case, label or row."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from mmdet3dctx.datasets import VolumeDatasetError, prepare_volume_dataset
from mmdet3dctx.datasets.volume_sources import list_box_table_cases, list_msd_cases
from mmdet3dctx.testing.synthetic_volumes import make_synthetic_dicom_seg

nib = pytest.importorskip('nibabel')

# RAS affine of the stored axes (i, j, k): i runs anterior (0.7 mm), j toward the patient's right (0.8 mm), k inferior
# (2.5 mm), as a converter may write it
AFFINE = np.array([[0.0, -0.8, 0.0, 50.0], [0.7, 0.0, 0.0, -30.0], [0.0, 0.0, -2.5, 100.0], [0, 0, 0, 1]])
SHAPE = (20, 16, 10)


def write_case(root, cid, labels=None, affine=AFFINE, label_affine=None, label_shape=None):
    """A tiny image and label pair under ``root`` (MSD names); labels default to a 3x3x3 cube of 1 at (5-7, 8-10,
    3-5)."""
    os.makedirs(osp.join(root, 'imagesTr'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelsTr'), exist_ok=True)
    img = np.full(SHAPE, 40, np.int16)
    if labels is None:
        labels = np.zeros(label_shape or SHAPE, np.uint8)
        labels[5:8, 8:11, 3:6] = 1
    img[5:8, 8:11, 3:6] = 120
    nib.save(nib.Nifti1Image(img, affine), osp.join(root, 'imagesTr', f'{cid}.nii.gz'))
    nib.save(nib.Nifti1Image(labels, affine if label_affine is None else label_affine),
             osp.join(root, 'labelsTr', f'{cid}.nii.gz'))


def write_dataset_json(root, cids, labels=None):
    meta = {'labels': labels or {'0': 'background', '1': 'nodule'},
            'training': [{'image': f'./imagesTr/{c}.nii.gz', 'label': f'./labelsTr/{c}.nii.gz'} for c in cids]}
    with open(osp.join(root, 'dataset.json'), 'w') as f:
        json.dump(meta, f)


def test_nifti_lesion_at_its_lps_point(tmp_path):
    root = str(tmp_path / 'task')
    write_case(root, 'c1')
    write_dataset_json(root, ['c1'])
    out = str(tmp_path / 'out')
    prepare_volume_dataset(root, out)
    case = json.load(open(osp.join(out, 'volumes.json')))['cases'][0]
    les, = case['lesions']
    ras = AFFINE @ np.array([6, 9, 4, 1.0])
    np.testing.assert_allclose(les['centre_lps_mm'], [-ras[0], -ras[1], ras[2]], atol=1e-4)
    # the cube's faces: 1.5 voxels from its centre along each patient axis (stored j runs along x, 0.8 mm; i along
    # y, 0.7 mm; k along z, 2.5 mm)
    np.testing.assert_allclose(np.subtract(les['box_lps_mm']['max'], les['box_lps_mm']['min']), [2.4, 2.1, 7.5],
                               atol=1e-4)
    np.testing.assert_allclose(les['volume_mm3'], 27 * 0.7 * 0.8 * 2.5)
    assert les['label'] == 1 and les['label_name'] == 'nodule' and case['shape'] == [10, 20, 16]
    hu = np.load(osp.join(out, case['cache']))
    lesion_map = np.load(osp.join(out, case['lesion_map']))
    np.testing.assert_array_equal(hu[lesion_map == 1], 120)  # the label lies on its image's voxels
    assert (lesion_map == 1).sum() == 27


def test_metaimage_with_reversed_axes_lesion_at_its_lps_point(tmp_path):
    sitk = pytest.importorskip('SimpleITK')
    arr = np.full((12, 30, 28), -1000, np.int16)  # ITK (k, j, i)
    arr[5, 12, 10] = 333  # a marker at ITK index (10, 12, 5)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.75, 0.75, 2.0))
    img.SetOrigin((80.0, -40.0, 150.0))
    img.SetDirection((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    os.makedirs(tmp_path / 'src' / 'subset3')
    sitk.WriteImage(img, str(tmp_path / 'src' / 'subset3' / 'scan.1.mhd'))
    x, y, z = img.TransformIndexToPhysicalPoint((10, 12, 5))
    (tmp_path / 'src' / 'annotations.csv').write_text(
        f'seriesuid,coordX,coordY,coordZ,diameter_mm\nscan.1,{x},{y},{z},3.0\n')
    out = str(tmp_path / 'out')
    prepare_volume_dataset(str(tmp_path / 'src'), out)
    case = json.load(open(osp.join(out, 'volumes.json')))['cases'][0]
    les, = case['lesions']
    np.testing.assert_allclose(les['centre_lps_mm'], [x, y, z], atol=1e-6)
    assert les['diameter_mm'] == 3.0 and les['row'] == 2
    hu = np.load(osp.join(out, case['cache']))
    k, i, j = (les['box_voxels'][a] + (les['box_voxels'][a + 3] - les['box_voxels'][a]) // 2 for a in range(3))
    assert hu[k, i, j] == 333  # the sphere's middle voxel is the marked one
    np.testing.assert_allclose(case['direction'], np.eye(3))


@pytest.mark.parametrize('what', ['shifted', 'shape'])
def test_label_not_on_its_images_grid(tmp_path, what):
    root = str(tmp_path / 'task')
    shifted = AFFINE.copy()
    shifted[0, 3] += 0.5
    write_case(root, 'c1', label_affine=shifted if what == 'shifted' else None,
               label_shape=(20, 16, 9) if what == 'shape' else None)
    write_dataset_json(root, ['c1'])
    why = 'voxel centres lie up to 0.5 mm' if what == 'shifted' else r'shape \(Z, H, W\) \(9, 20, 16\)'
    with pytest.raises(VolumeDatasetError, match=rf"case 'c1': label volume .*labelsTr/c1.nii.gz is not on the grid "
                       rf"of its image .*imagesTr/c1.nii.gz: {why}"):
        prepare_volume_dataset(root, str(tmp_path / 'out'))


def test_label_value_absent_from_dataset_json(tmp_path):
    root = str(tmp_path / 'task')
    labels = np.zeros(SHAPE, np.uint8)
    labels[1, 1, 1], labels[3, 3, 3] = 1, 3
    write_case(root, 'c1', labels=labels)
    write_dataset_json(root, ['c1'])
    with pytest.raises(VolumeDatasetError, match=r"case 'c1': .*labelsTr/c1.nii.gz holds label value\(s\) \[3\] "
                       r"that .*dataset.json does not name"):
        prepare_volume_dataset(root, str(tmp_path / 'out'))


def test_duplicate_and_missing_cases(tmp_path):
    root = str(tmp_path / 'task')
    write_case(root, 'c1')
    write_dataset_json(root, ['c1', 'c1'])
    with pytest.raises(VolumeDatasetError, match=r"duplicate case id 'c1': .*imagesTr/c1.nii.gz and"):
        list_msd_cases(root)
    write_dataset_json(root, ['c1', 'c9'])
    with pytest.raises(VolumeDatasetError, match=r"dataset.json: case 'c9' \(training entry 1\) lists the image "
                       r"'./imagesTr/c9.nii.gz', but .*c9.nii.gz does not exist"):
        list_msd_cases(root)


@pytest.mark.parametrize('damage', ['truncated', 'garbage'])
def test_unreadable_nifti_names_case_and_file(tmp_path, damage):
    root = str(tmp_path / 'task')
    write_case(root, 'c1')
    write_dataset_json(root, ['c1'])
    path = osp.join(root, 'imagesTr', 'c1.nii.gz')
    raw = open(path, 'rb').read()
    open(path, 'wb').write(raw[:len(raw) // 2] if damage == 'truncated' else b'garbage')
    with pytest.raises(VolumeDatasetError, match=r"case 'c1': .*imagesTr/c1.nii.gz: (not a readable|unreadable)"):
        prepare_volume_dataset(root, str(tmp_path / 'out'))


def test_nnunet_v2_labels_and_decathlon_labels_read_alike(tmp_path):
    from mmdet3dctx.datasets.volume_sources import read_dataset_json
    (tmp_path / 'a.json').write_text(json.dumps({'labels': {'0': 'background', '1': 'liver', '2': 'cancer'}}))
    (tmp_path / 'b.json').write_text(json.dumps({'labels': {'background': 0, 'liver': 1, 'cancer': 2,
                                                            'liver and cancer': [1, 2]}}))
    assert read_dataset_json(str(tmp_path / 'a.json'))[1] == read_dataset_json(str(tmp_path / 'b.json'))[1] == {
        0: 'background', 1: 'liver', 2: 'cancer'}


def write_table_source(tmp_path, rows, header='seriesuid,coordX,coordY,coordZ,diameter_mm'):
    sitk = pytest.importorskip('SimpleITK')
    src = tmp_path / 'src'
    os.makedirs(src / 'subset0', exist_ok=True)
    img = sitk.GetImageFromArray(np.zeros((10, 20, 20), np.int16))
    img.SetSpacing((1.0, 1.0, 2.0))  # the volume spans x, y in [-0.5, 19.5], z in [-1, 19] mm
    sitk.WriteImage(img, str(src / 'subset0' / 's1.mhd'))
    (src / 'annotations.csv').write_text(header + '\n' + ''.join(r + '\n' for r in rows))
    return str(src)


@pytest.mark.parametrize('row,message', [
    ('s1,5,5,nan,4', "annotations.csv line 3, column coordZ: 'nan' is not a finite number"),
    ('s1,5,5,4,big', "annotations.csv line 3, column diameter_mm: 'big' is not a number"),
    ('s1,5,5,4,-1', 'annotations.csv line 3, column diameter_mm: -1.0 is not positive'),
])
def test_bad_table_values_name_line_and_column(tmp_path, row, message):
    src = write_table_source(tmp_path, ['s1,5,5,4,4', row])
    with pytest.raises(VolumeDatasetError, match=message):
        list_box_table_cases(src)


def test_shapes_outside_their_volume_name_the_row(tmp_path):
    src = write_table_source(tmp_path, ['s1,5,5,4,4', 's1,5,25,4,4'])
    with pytest.raises(VolumeDatasetError, match=r"annotations.csv line 3 \(case 's1', .*s1.mhd\): the sphere's "
                       r'centre .* lies outside the volume'):
        prepare_volume_dataset(src, str(tmp_path / 'out'))
    shutil.rmtree(src)
    src = write_table_source(tmp_path, ['s1,2,2,0,8,8,6', 's1,2,2,10,8,8,22'],
                             header='case_id,x_min,y_min,z_min,x_max,y_max,z_max')
    with pytest.raises(VolumeDatasetError, match=r"annotations.csv line 3 \(case 's1', .*\): the box .* reaches "
                       'outside the volume'):
        prepare_volume_dataset(src, str(tmp_path / 'out'))


def test_rows_without_a_volume_are_skipped_by_name_and_duplicate_volumes_refused(tmp_path):
    src = write_table_source(tmp_path, ['s1,5,5,4,4', 'gone,1,1,1,4', 'gone,2,2,2,4'])
    summary = prepare_volume_dataset(src, str(tmp_path / 'out'))
    assert summary['skipped'] == [(osp.join(src, 'annotations.csv') + ' line(s) 3, 4', f"no volume 'gone' under {src}")]
    assert summary['lesions']['train'] + summary['lesions']['val'] + summary['lesions']['test'] == 1
    os.makedirs(osp.join(src, 'subset1'))
    shutil.copy(osp.join(src, 'subset0', 's1.mhd'), osp.join(src, 'subset1', 's1.mhd'))
    with pytest.raises(VolumeDatasetError, match=r"duplicate case id 's1': 2 volumes carry that name"):
        list_box_table_cases(src)


@pytest.fixture(scope='module')
def studies(tmp_path_factory):
    return make_synthetic_dicom_seg(str(tmp_path_factory.mktemp('dicom') / 'src'), num_studies=2, seed=4,
                                    num_lesions=(1, 1), size=32)


def test_seg_of_another_study_is_refused(studies, tmp_path):
    src = tmp_path / 'src'
    shutil.copytree(studies['root'], src)
    shutil.copy(src / 'study_01' / 'seg.dcm', src / 'study_00' / 'seg.dcm')
    with pytest.raises(VolumeDatasetError, match=r"case 'study_00': .*study_00/seg.dcm references images of the CT "
                       r'series .*, which is not in the study'):
        prepare_volume_dataset(str(src), str(tmp_path / 'out'))


def test_seg_referencing_images_not_in_the_series_is_refused(studies, tmp_path):
    import pydicom
    src = tmp_path / 'src'
    shutil.copytree(studies['root'], src)
    seg = pydicom.dcmread(src / 'study_00' / 'seg.dcm')
    seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID = '1.2.3.4.5'
    seg.save_as(src / 'study_00' / 'seg.dcm')
    with pytest.raises(VolumeDatasetError, match=r"case 'study_00': .*seg.dcm references 1 image\(s\) not in the "
                       r"study's CT series .* \(first: SOP Instance UID 1.2.3.4.5\)"):
        prepare_volume_dataset(str(src), str(tmp_path / 'out'))
    shutil.copy(osp.join(studies['root'], 'study_00', 'seg.dcm'), src / 'study_00' / 'seg2.dcm')
    with pytest.raises(VolumeDatasetError, match=r"case 'study_00': .* holds 2 DICOM SEG files"):
        prepare_volume_dataset(str(src), str(tmp_path / 'out'))


def write_planted_study(study, kind, z, h, w):
    """A CT series with a bright block on slices 1-3, rows 10-19, columns 22-29 of the volume's layout, stored
    head-first supine, feet-first prone (rows reversed) or as one enhanced multi-frame object."""
    from mmdet3dctx.io import write_ct_series
    hu = np.random.default_rng(0).normal(0, 20, size=(z, h, w)).astype(np.float32)
    hu[1:4, 10:20, 22:30] += 300
    zs = np.arange(z) * 2.5 + 30.0
    if kind == 'ffp':
        ipp = np.stack([np.full(z, -100.0), np.full(z, -90.0 + (h - 1) * 0.7), zs], 1)
        write_ct_series(str(study / 'series'), np.ascontiguousarray(hu[:, ::-1]), ipp, spacing=(0.7, 0.6),
                        orientation=(1, 0, 0, 0, -1, 0), patient_position='FFP', patient_id='A')
        return
    write_ct_series(str(study / 'series'), hu, zs, spacing=(0.7, 0.6), patient_id='A',
                    order=[3, 1, 5, 0, 2, 4] if kind == 'enhanced' else None)
    if kind == 'enhanced':
        import highdicom as hd
        import pydicom
        from pydicom.uid import generate_uid
        legacy = [pydicom.dcmread(str(study / 'series' / n)) for n in sorted(os.listdir(study / 'series'))]
        mf = hd.legacy.LegacyConvertedEnhancedCTImage(legacy, series_instance_uid=generate_uid(), series_number=2,
                                                      sop_instance_uid=generate_uid(), instance_number=1)
        shutil.rmtree(study / 'series')
        os.makedirs(study / 'series')
        mf.save_as(str(study / 'series' / 'enhanced.dcm'))


@pytest.mark.parametrize('kind', ['hfs', 'ffp', 'enhanced'])
def test_findings_seg_of_the_toolkit_is_the_correction_loops_input(tmp_path, kind):
    """The SEG tools/infer.py writes for a study, put beside the study's series, prepares to its masks, on the
    voxels they were found on, whatever the series' pixel order or frame layout."""
    from mmdet3dctx.inference import link_detections, write_study_outputs
    from mmdet3dctx.io import read_dicom_series
    z, h, w = 6, 40, 48
    study = tmp_path / 'src' / 'patient_a'
    write_planted_study(study, kind, z, h, w)
    vol = read_dicom_series(str(study / 'series'))
    boxes, scores, masks = [], [], []
    for k in range(z):
        m = vol.hu[k] > 150
        ys, xs = np.nonzero(m)
        boxes.append(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float) if m.sum() > 20 else
                     np.zeros((0, 4)))
        scores.append(np.array([0.9]) if m.sum() > 20 else np.zeros(0))
        masks.append(m[None] if m.sum() > 20 else np.zeros((0, h, w), bool))
    found = link_detections(list(range(z)), boxes, scores, masks, positions=vol.positions,
                            pixel_spacing=vol.spacing[1:], slice_interval=vol.slice_interval, run_ids=vol.run_ids())
    write_study_outputs(found, vol, str(tmp_path / 'infer_out'), detector_name='test detector')
    for name in ('findings_seg.dcm', 'findings_sr.dcm'):  # the SR beside it is no image and is passed over
        shutil.copy(tmp_path / 'infer_out' / name, study / name)
    out = str(tmp_path / 'out')
    prepare_volume_dataset(str(tmp_path / 'src'), out)
    case = json.load(open(osp.join(out, 'volumes.json')))['cases'][0]
    assert case['case_id'] == 'patient_a' and case['patient_id'] == 'A'
    les, = case['lesions']
    assert (les['label'], les['label_name']) == (1, 'Finding 1')
    assert les['box_voxels'] == [1, 10, 22, 4, 20, 30]
    lesion_map = np.load(osp.join(out, case['lesion_map']))
    expected = np.zeros((z, h, w), bool)
    expected[1:4] = vol.hu[1:4] > 150
    np.testing.assert_array_equal(lesion_map == 1, expected)
    np.testing.assert_allclose(les['centre_lps_mm'], [-100 + 25.5 * 0.6, -90 + 14.5 * 0.7, 30 + 2 * 2.5], atol=0.05)


def test_table_labels_select_lesions(tmp_path):
    src = write_table_source(tmp_path, ['s1,5,5,4,4,1,nodule', 's1,12,12,10,4,2,mass'],
                             header='seriesuid,coordX,coordY,coordZ,diameter_mm,label,label_name')
    listing = list_box_table_cases(src, lesion_labels=[2])
    assert listing.skipped == [(osp.join(src, 'annotations.csv'),
                                '1 row(s) with a label not among the lesion labels [2] (first: line 2)')]
    loaded = listing.cases[0].load()
    assert loaded.lesions == [dict(label=2, label_name='mass', row=3, diameter_mm=4.0)]
