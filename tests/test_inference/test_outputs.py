"""The result files of a study, read back: findings in LPS, a NIfTI label volume on the input's grid, DICOM SR
(TID 1500) and SEG referencing the source images, an HTML report a browser renders; written whole or not at all."""
import csv
import json
import os
import os.path as osp
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip('pydicom')
from mmdet3dctx.inference import link_detections, write_study_outputs  # noqa: E402
from mmdet3dctx.io import read_dicom_series, read_nifti, write_ct_series  # noqa: E402

Z, H, W = 6, 40, 48
SPACING = (0.7, 0.6)  # rows, columns


def planted(position='HFS'):
    """A volume with a bright block on slices 1-3 (rows 10-19, columns 22-29 of the HFS layout)."""
    hu = np.random.default_rng(0).normal(0, 20, size=(Z, H, W)).astype(np.float32)
    hu[1:4, 10:20, 22:30] += 300
    return hu


def findings_of(vol, with_masks=True):
    """What a detector would report for the planted block: a box and mask per slice, linked in 3D."""
    boxes, scores, masks = [], [], []
    for z in range(vol.num_slices):
        m = vol.hu[z] > 150
        if m.sum() > 20:
            ys, xs = np.nonzero(m)
            boxes.append(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float64))
            scores.append(np.array([0.9 - 0.1 * abs(z - 2)]))
            masks.append(m[None])
        else:
            boxes.append(np.zeros((0, 4)))
            scores.append(np.zeros(0))
            masks.append(np.zeros((0, H, W), bool))
    return link_detections(list(range(vol.num_slices)), boxes, scores, masks if with_masks else None,
                           positions=vol.positions, pixel_spacing=vol.spacing[1:], slice_interval=vol.slice_interval,
                           run_ids=vol.run_ids())


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp('outputs')
    write_ct_series(str(root / 'series'), planted(), np.arange(Z) * 2.5 + 30.0, spacing=SPACING)
    vol = read_dicom_series(str(root / 'series'))
    found = findings_of(vol)
    out = root / 'out'
    files = write_study_outputs(found, vol, str(out), detector_name='test detector')
    return dict(vol=vol, found=found, out=out, files=files)


def test_findings_in_patient_space(study):
    vol, out = study['vol'], study['out']
    assert sorted(osp.basename(f) for f in study['files']) == sorted(
        ['findings.json', 'findings.csv', 'findings.nii.gz', 'findings_sr.dcm', 'findings_seg.dcm', 'report.html'])
    report = json.loads((out / 'findings.json').read_text())
    assert report['num_findings'] == 1 and report['detector'] == 'test detector'
    f = report['findings'][0]
    assert f['id'] == 1 and f['slice_range'] == [1, 3] and f['key_slice'] == 2 and f['box'] == [22, 10, 30, 20]
    # the block's centre: columns 22-29 -> 25.5, rows 10-19 -> 14.5, from the corner at (-100, -90) mm
    np.testing.assert_allclose(f['centre_lps_mm'], [-100 + 25.5 * 0.6, -90 + 14.5 * 0.7, 30 + 2 * 2.5], atol=0.01)
    np.testing.assert_allclose(f['extent_lps_mm']['min'], [-100 + 21.5 * 0.6, -90 + 9.5 * 0.7, 30 + 2.5 - 1.25],
                               atol=0.01)
    np.testing.assert_allclose(f['extent_lps_mm']['max'], [-100 + 29.5 * 0.6, -90 + 19.5 * 0.7, 30 + 7.5 + 1.25],
                               atol=0.01)
    assert f['extent_mm'] == pytest.approx(7.5)
    assert f['sop_instance_uid'] == vol.slice_refs[2]['sop_instance_uid']
    assert f['series_instance_uid'] == vol.metadata['series_uid']
    assert f['key_slice_file'] == vol.slice_refs[2]['file']
    rows = list(csv.DictReader(open(out / 'findings.csv')))
    assert len(rows) == 1 and rows[0]['sop_instance_uid'] == f['sop_instance_uid']
    assert float(rows[0]['centre_x_lps']) == f['centre_lps_mm'][0]
    assert float(rows[0]['long_diameter_mm']) == f['long_diameter_mm']
    assert report['study']['affine_lps'][0][3] == -100.0


def test_label_volume_on_the_input_grid(study):
    nib = pytest.importorskip('nibabel')
    vol, out = study['vol'], study['out']
    img = nib.load(str(out / 'findings.nii.gz'))
    np.testing.assert_allclose(img.affine, np.diag([-1, -1, 1, 1]) @ vol.affine, atol=1e-5)
    labels = read_nifti(str(out / 'findings.nii.gz'))  # back into the volume's layout
    assert labels.hu.shape == vol.hu.shape
    np.testing.assert_allclose(labels.affine, vol.affine, atol=1e-5)
    expected = np.zeros(vol.hu.shape)
    expected[1:4][vol.hu[1:4] > 150] = 1
    np.testing.assert_array_equal(labels.hu, expected)


def test_sr_reads_back_with_the_findings_measurements(study):
    hd = pytest.importorskip('highdicom')
    from pydicom.sr.codedict import codes
    vol, out = study['vol'], study['out']
    f = json.loads((out / 'findings.json').read_text())['findings'][0]
    sr = hd.sr.srread(str(out / 'findings_sr.dcm'))
    assert sr.StudyInstanceUID == vol.metadata['study_uid'] and sr.SeriesInstanceUID != vol.metadata['series_uid']
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 1
    g = groups[0]
    assert str(g.tracking_identifier) == 'Finding 1'
    assert g.get_measurements(name=codes.SCT.LongAxis)[0].value == pytest.approx(f['long_diameter_mm'])
    assert g.get_measurements(name=codes.SCT.ShortAxis)[0].value == pytest.approx(f['short_diameter_mm'])
    assert str(g.get_measurements(name=codes.SCT.LongAxis)[0].unit.value) == 'mm'
    assert g.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == f['sop_instance_uid']
    np.testing.assert_allclose(g.roi.value, [[22, 10], [30, 10], [30, 20], [22, 20], [22, 10]])
    evidence = {item.ReferencedSOPInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
                for se in s.ReferencedSeriesSequence for item in se.ReferencedSOPSequence}
    assert evidence == {r['sop_instance_uid'] for r in vol.slice_refs}


def test_seg_reads_back_with_the_masks(study):
    hd = pytest.importorskip('highdicom')
    vol, out = study['vol'], study['out']
    seg = hd.seg.segread(str(out / 'findings_seg.dcm'))
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ['Finding 1']
    # the source images with a mask are referenced
    assert {u[2] for u in seg.get_source_image_uids()} == {vol.slice_refs[z]['sop_instance_uid'] for z in (1, 2, 3)}
    sops = [r['sop_instance_uid'] for r in vol.slice_refs]
    frames = {}
    for k, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        sop = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        frames[sops.index(sop)] = seg.pixel_array[k] if seg.pixel_array.ndim == 3 else seg.pixel_array
    assert sorted(frames) == [1, 2, 3]  # empty frames are not stored
    for z, m in frames.items():
        np.testing.assert_array_equal(m.astype(bool), vol.hu[z] > 150)


def test_feet_first_prone_study_refers_to_its_own_pixels(tmp_path, study):
    hd = pytest.importorskip('highdicom')
    hu = planted()
    ipp = np.stack([np.full(Z, -100.0), np.full(Z, -90.0 + (H - 1) * SPACING[0]), np.arange(Z) * 2.5 + 30.0], 1)
    write_ct_series(str(tmp_path / 'ffp'), np.ascontiguousarray(hu[:, ::-1]), ipp, orientation=(1, 0, 0, 0, -1, 0),
                    spacing=SPACING, patient_position='FFP')
    vol = read_dicom_series(str(tmp_path / 'ffp'))
    np.testing.assert_array_equal(vol.hu, study['vol'].hu)
    write_study_outputs(findings_of(vol), vol, str(tmp_path / 'out'))
    a = json.loads((tmp_path / 'out' / 'findings.json').read_text())['findings']
    b = json.loads((study['out'] / 'findings.json').read_text())['findings']
    for key in ('box', 'centre_lps_mm', 'extent_lps_mm', 'long_diameter_mm', 'slice_range'):
        assert a[0][key] == b[0][key], key
    g = hd.sr.srread(str(tmp_path / 'out' / 'findings_sr.dcm')).content.get_planar_roi_measurement_groups()[0]
    np.testing.assert_allclose(g.roi.value[:, 1], [H - 10, H - 10, H - 20, H - 20, H - 10])  # rows stored flipped
    seg = hd.seg.segread(str(tmp_path / 'out' / 'findings_seg.dcm'))
    assert seg.pixel_array[0].astype(bool)[::-1].any()
    np.testing.assert_array_equal(seg.pixel_array[0].astype(bool)[::-1], study['vol'].hu[1] > 150)


def test_never_overwrites_and_interrupted_runs_leave_nothing(tmp_path, study, monkeypatch):
    from mmdet3dctx.inference import report
    vol, found = study['vol'], study['found']
    out = tmp_path / 'out'
    write_study_outputs(found, vol, str(out))
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    with pytest.raises(FileExistsError, match=r'already holds findings \(findings.json, .*pass --overwrite'):
        write_study_outputs(found, vol, str(out))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, 'write_html_report', interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_study_outputs(found[:0], vol, str(out), overwrite=True)
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before  # the earlier results, untouched
    with pytest.raises(KeyboardInterrupt):
        write_study_outputs(found, vol, str(tmp_path / 'new'))
    assert sorted(os.listdir(tmp_path)) == ['out']  # no new folder, no staging folder left behind
    monkeypatch.undo()
    write_study_outputs(found[:0], vol, str(out), overwrite=True)  # no findings: no SR or SEG; the old ones go
    assert sorted(os.listdir(out)) == ['findings.csv', 'findings.json', 'findings.nii.gz', 'report.html']


def test_nifti_and_box_only_findings(tmp_path):
    nib = pytest.importorskip('nibabel')
    hu = planted()
    affine = np.diag([-0.6, -0.7, 2.5, 1.0])  # stored in LPS voxel order: i toward left, j toward posterior
    affine[:3, 3] = [100.0, 90.0, 30.0]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(hu.transpose(2, 1, 0)), affine), str(tmp_path / 'ct.nii.gz'))
    vol = read_nifti(str(tmp_path / 'ct.nii.gz'))
    np.testing.assert_array_equal(vol.hu, hu)
    found = findings_of(vol, with_masks=False)
    write_study_outputs(found, vol, str(tmp_path / 'out'))
    assert sorted(os.listdir(tmp_path / 'out')) == ['findings.csv', 'findings.json', 'findings.nii.gz', 'report.html']
    img = nib.load(str(tmp_path / 'out' / 'findings.nii.gz'))
    np.testing.assert_allclose(img.affine, affine, atol=1e-6)  # the input's own affine and voxel order
    labels = np.asarray(img.dataobj).transpose(2, 1, 0)
    expected = np.zeros(hu.shape)
    expected[1:4, 10:20, 22:30] = 1  # the boxes
    np.testing.assert_array_equal(labels, expected)
    f = json.loads((tmp_path / 'out' / 'findings.json').read_text())['findings'][0]
    # RAS (100 - 0.6 i, 90 - 0.7 j) of the box centre (i 25.5, j 14.5) is LPS (-84.7, -79.85)
    np.testing.assert_allclose(f['centre_lps_mm'], [-(100 - 0.6 * 25.5), -(90 - 0.7 * 14.5), 35.0], atol=0.01)
    assert f['sop_instance_uid'] is None


CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')


@pytest.mark.skipif(CHROMIUM is None, reason='no chromium on this machine (Debian package `chromium`; .ci/run '
                    'installs it)')
def test_report_renders_in_a_browser(study, tmp_path):
    page = (study['out'] / 'report.html').read_text()
    assert 'src="http' not in page and 'href="http' not in page and '<script' not in page  # self-contained
    shot = tmp_path / 'shot.png'
    res = subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0',
                          f'--screenshot={shot}', '--window-size=900,1000',
                          (study['out'] / 'report.html').as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    console = [ln for ln in res.stderr.splitlines() if 'CONSOLE' in ln or 'Failed to load resource' in ln
               or 'Uncaught' in ln]
    assert not console, console
    import cv2
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (1000, 900)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 100  # text, tables and a CT thumbnail, not a blank page
    red = (img[..., 2] > 200) & (img[..., 1] < 60) & (img[..., 0] < 60)
    assert red.sum() > 20  # the finding's box drawn on the embedded thumbnail


def test_enhanced_multiframe_study_refers_to_its_frames(tmp_path):
    hd = pytest.importorskip('highdicom')
    from pydicom import dcmread
    from pydicom.uid import generate_uid
    write_ct_series(str(tmp_path / 'single'), planted(), np.arange(Z) * 2.5 + 30.0, spacing=SPACING,
                    order=[3, 1, 5, 0, 2, 4])
    legacy = [dcmread(str(tmp_path / 'single' / n)) for n in sorted(os.listdir(tmp_path / 'single'))]
    mf = hd.legacy.LegacyConvertedEnhancedCTImage(legacy, series_instance_uid=generate_uid(), series_number=2,
                                                  sop_instance_uid=generate_uid(), instance_number=1)
    os.makedirs(tmp_path / 'multi')
    mf.save_as(str(tmp_path / 'multi' / 'enhanced.dcm'))
    vol = read_dicom_series(str(tmp_path / 'multi'))
    write_study_outputs(findings_of(vol), vol, str(tmp_path / 'out'))
    f = json.loads((tmp_path / 'out' / 'findings.json').read_text())['findings'][0]
    assert f['sop_instance_uid'] == str(mf.SOPInstanceUID) and f['frame_number'] == vol.slice_refs[2]['frame']
    g = hd.sr.srread(str(tmp_path / 'out' / 'findings_sr.dcm')).content.get_planar_roi_measurement_groups()[0]
    ref = g.roi.ContentSequence[0].ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID == str(mf.SOPInstanceUID) and ref.ReferencedFrameNumber == f['frame_number']
    seg = hd.seg.segread(str(tmp_path / 'out' / 'findings_seg.dcm'))
    frames = sorted(int(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)
                    for item in seg.PerFrameFunctionalGroupsSequence)
    assert frames == sorted(vol.slice_refs[z]['frame'] for z in (1, 2, 3))
