"""DICOM study folders as scanners and PACS export them: sub-folders, DICOMDIR, scouts and reports beside the
series, compressed pixel data, enhanced multi-frame CT, and bad input named clearly."""
import copy
import io
import logging
import os
import os.path as osp
import shutil

import numpy as np
import pytest

pydicom = pytest.importorskip('pydicom')
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from mmdet3dctx.io import DicomSeriesError, read_dicom_series, scan_dicom_study, write_ct_series  # noqa: E402

CT_SMALL = get_testdata_file('CT_small.dcm')
DICOMDIR_TESTS = osp.join(osp.dirname(CT_SMALL), 'dicomdirtests')


def hu_volume(z=5, h=8, w=9, seed=0):
    return np.random.default_rng(seed).integers(-1000, 1500, size=(z, h, w)).astype(np.float32)


@pytest.fixture
def study(tmp_path):
    """A PACS-like export: patient/study/series sub-folders, a scout, a dose report, a dose screen, a coronal
    reformat, a thick axial series, a text file."""
    root = tmp_path / 'STUDY'
    study_uid = generate_uid()
    hu = hu_volume()
    main = write_ct_series(str(root / 'P1' / 'S1' / 'AX_THIN'), hu, np.arange(5) * 1.25, study_uid=study_uid,
                           description='abdomen 1.25 mm')
    thick = write_ct_series(str(root / 'P1' / 'S1' / 'AX_THICK'), hu[:2], np.arange(2) * 5.0, study_uid=study_uid,
                            description='abdomen 5 mm')
    write_ct_series(str(root / 'P1' / 'S1' / 'SCOUT'), hu[:1], [0.0], study_uid=study_uid, description='topogram',
                    image_type=('ORIGINAL', 'PRIMARY', 'LOCALIZER'), orientation=(1, 0, 0, 0, 0, -1))
    coronal_ipp = np.array([[0.0, y, 0.0] for y in (0.0, 3.0, 6.0)])
    write_ct_series(str(root / 'P1' / 'S1' / 'COR'), hu[:3], coronal_ipp, study_uid=study_uid,
                    description='coronal reformat', orientation=(1, 0, 0, 0, 0, -1))
    # a radiation dose structured report (no pixel data) and a secondary-capture dose screen
    sr = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)
    for tag in ('Rows', 'Columns', 'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation',
                'SamplesPerPixel', 'PhotometricInterpretation'):
        if tag in sr:
            delattr(sr, tag)
    sr.SOPClassUID = sr.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.88.67'
    sr.Modality = 'SR'
    sr.SeriesInstanceUID, sr.SOPInstanceUID = generate_uid(), generate_uid()
    os.makedirs(root / 'P1' / 'S1' / 'DOSE')
    sr.save_as(str(root / 'P1' / 'S1' / 'DOSE' / 'dose_sr.dcm'))
    sc = pydicom.dcmread(CT_SMALL)
    sc.SOPClassUID = sc.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.7'
    sc.SeriesInstanceUID, sc.SOPInstanceUID = generate_uid(), generate_uid()
    sc.save_as(str(root / 'P1' / 'S1' / 'DOSE' / 'dose_screen.dcm'))
    (root / 'README.TXT').write_text('exported by a PACS')
    return dict(root=str(root), hu=hu, main=main, thick=thick)


def test_study_folder_lists_series_and_skips_with_reasons(study):
    series, skipped = scan_dicom_study(study['root'])
    by_desc = {s.description: s for s in series}
    assert sorted(by_desc) == ['abdomen 1.25 mm', 'abdomen 5 mm', 'coronal reformat']
    assert by_desc['abdomen 1.25 mm'].num_slices == 5 and by_desc['abdomen 1.25 mm'].orientation == 'axial'
    assert by_desc['coronal reformat'].orientation == 'coronal'
    assert by_desc['abdomen 1.25 mm'].spacing == pytest.approx((1.25, 0.7, 0.6))
    line = by_desc['abdomen 1.25 mm'].summary()
    assert study['main'] in line and 'CT' in line and 'axial' in line and '5 slice(s)' in line and '1.25' in line
    reasons = {osp.basename(k.path): k.reason for k in skipped}
    assert reasons['README.TXT'] == 'not a DICOM file'
    assert reasons['im000.dcm'].startswith('localizer/scout image (ImageType ORIGINAL\\PRIMARY\\LOCALIZER')
    assert reasons['dose_sr.dcm'].startswith('no image (X-Ray Radiation Dose SR Storage')
    assert reasons['dose_screen.dcm'].startswith('secondary capture')


def test_default_series_is_the_axial_ct_with_most_slices(study, caplog):
    with caplog.at_level(logging.INFO, logger='mmdet3dctx.io.dicom'):
        vol = read_dicom_series(study['root'])
    assert vol.metadata['series_uid'] == study['main']
    assert f"reading series {study['main']} (abdomen 1.25 mm, 5 slices)" in caplog.text
    np.testing.assert_array_equal(vol.hu, study['hu'])
    assert read_dicom_series(study['root'], series_uid=study['thick']).num_slices == 2


def test_dicomdir_is_honoured(tmp_path):
    from pydicom.fileset import FileSet
    src = tmp_path / 'src'
    hu = hu_volume(3)
    uid = write_ct_series(str(src), hu, [0.0, 2.0, 4.0])
    fs = FileSet()
    for n in sorted(os.listdir(src)):
        fs.add(pydicom.dcmread(str(src / n)))
    fs.write(str(tmp_path / 'media'))
    # a file the DICOMDIR does not list is not part of the media
    write_ct_series(str(tmp_path / 'media' / 'stray'), hu_volume(4), [0.0, 1.0, 2.0, 3.0])
    series, skipped = scan_dicom_study(str(tmp_path / 'media'))
    assert [s.uid for s in series] == [uid]
    assert any(k.reason.startswith('DICOMDIR') for k in skipped)
    np.testing.assert_array_equal(read_dicom_series(str(tmp_path / 'media')).hu, hu)


def test_pydicom_dicomdir_media():
    series, skipped = scan_dicom_study(DICOMDIR_TESTS)
    assert sum(k.reason.startswith('localizer/scout') for k in skipped) == 2  # 98892001/CT2N
    vol = read_dicom_series(DICOMDIR_TESTS)
    assert vol.metadata['series_description'] == 'SmartScore - Gated 0.5 sec' and vol.num_slices == 5
    assert vol.slice_interval == pytest.approx(2.5)


def _compressed_copy(src, dst, syntax):
    ds = copy.deepcopy(pydicom.dcmread(src))
    ds.compress(syntax)
    ds.save_as(dst, enforce_file_format=True)


@pytest.mark.parametrize('syntax', ['RLELossless', 'JPEGLSLossless', 'JPEG2000Lossless'])
def test_compressed_series_decode_to_the_same_hu(tmp_path, syntax):
    pytest.importorskip({'JPEGLSLossless': 'jpeg_ls', 'JPEG2000Lossless': 'openjpeg'}.get(syntax, 'pydicom'))
    import pydicom.uid
    hu = hu_volume(3, 64, 48)  # OpenJPEG's default 6 resolution levels need 32+ pixels
    write_ct_series(str(tmp_path / 'raw'), hu, [0.0, 2.0, 4.0])
    os.makedirs(tmp_path / 'packed')
    for n in sorted(os.listdir(tmp_path / 'raw')):
        _compressed_copy(str(tmp_path / 'raw' / n), str(tmp_path / 'packed' / n), getattr(pydicom.uid, syntax))
    assert pydicom.dcmread(str(tmp_path / 'packed' / 'im000.dcm')).file_meta.TransferSyntaxUID == \
        getattr(pydicom.uid, syntax)
    vol = read_dicom_series(str(tmp_path / 'packed'))
    np.testing.assert_array_equal(vol.hu, read_dicom_series(str(tmp_path / 'raw')).hu)
    np.testing.assert_array_equal(vol.hu, hu)


def test_real_ct_file_compressed(tmp_path):
    """pydicom's own scanner CT slice, compressed with every available lossless encoder."""
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless
    ref = read_dicom_series(CT_SMALL).hu
    for k, syntax in enumerate((RLELossless, JPEGLSLossless, JPEG2000Lossless)):
        _compressed_copy(CT_SMALL, str(tmp_path / f'c{k}.dcm'), syntax)
        np.testing.assert_array_equal(read_dicom_series(str(tmp_path / f'c{k}.dcm')).hu, ref)


def test_jpeg_baseline_decodes_within_its_loss(tmp_path):
    """A lossy JPEG baseline (8-bit) CT series: HU within the codec's loss of the original."""
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    hu = np.stack([np.where((xx - 16) ** 2 + (yy - 16) ** 2 < 100, 40.0, -900.0) + rng.normal(0, 5, (32, 32))
                   for _ in range(2)])
    write_ct_series(str(tmp_path / 's'), hu, [0.0, 3.0], slope=8.0, intercept=-1024.0)
    ref = read_dicom_series(str(tmp_path / 's')).hu  # the uncompressed series
    for n in sorted(os.listdir(tmp_path / 's')):
        ds = pydicom.dcmread(str(tmp_path / 's' / n))
        stored = np.clip(ds.pixel_array, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(stored).save(buf, format='JPEG', quality=95)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = encapsulate([buf.getvalue()])
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.save_as(str(tmp_path / 's' / n), enforce_file_format=True)
    vol = read_dicom_series(str(tmp_path / 's'))
    err = np.abs(vol.hu - ref) / 8  # in stored levels of 8 HU
    assert err.max() <= 6 and err.mean() < 1.5  # JPEG's loss, largest at the disc's edge


def test_enhanced_multiframe_ct_reads_per_frame_positions(tmp_path):
    hd = pytest.importorskip('highdicom')
    hu = hu_volume(4, 10, 12)
    z = np.array([0.0, 2.5, 5.0, 10.0])  # one gap
    write_ct_series(str(tmp_path / 'single'), hu, z, order=[2, 0, 3, 1])
    legacy = [pydicom.dcmread(str(tmp_path / 'single' / n)) for n in sorted(os.listdir(tmp_path / 'single'))]
    mf = hd.legacy.LegacyConvertedEnhancedCTImage(legacy, series_instance_uid=generate_uid(), series_number=2,
                                                  sop_instance_uid=generate_uid(), instance_number=1)
    os.makedirs(tmp_path / 'multi')
    mf.save_as(str(tmp_path / 'multi' / 'enhanced.dcm'))
    with pytest.warns(UserWarning, match='a gap of 5.00 mm'):
        vol = read_dicom_series(str(tmp_path / 'multi'))
        ref = read_dicom_series(str(tmp_path / 'single'))
    np.testing.assert_array_equal(vol.hu, hu)
    np.testing.assert_allclose(vol.positions, z)
    np.testing.assert_allclose(vol.affine, ref.affine)
    assert vol.runs() == [(0, 2), (3, 3)]
    assert sorted(r['frame'] for r in vol.slice_refs) == [1, 2, 3, 4]
    assert {r['sop_instance_uid'] for r in vol.slice_refs} == {str(mf.SOPInstanceUID)}


def test_truncated_files(tmp_path):
    write_ct_series(str(tmp_path / 's'), hu_volume(3, 16, 16), [0.0, 1.0, 2.0])
    path = tmp_path / 's' / 'im001.dcm'
    data = path.read_bytes()
    path.write_bytes(data[:-200])  # pixel data cut short
    with pytest.raises(DicomSeriesError, match=r'im001.dcm: cannot decode PixelData'):
        read_dicom_series(str(tmp_path / 's'))
    path.write_bytes(data[:300])  # header cut short: skipped with its reason, the gap it leaves is named
    series, skipped = scan_dicom_study(str(tmp_path / 's'))
    assert [osp.basename(k.path) for k in skipped] == ['im001.dcm']
    assert skipped[0].reason == 'no image and no SOPClassUID (a truncated or incomplete file?)'


def test_folder_without_ct(tmp_path):
    shutil.copy(get_testdata_file('MR_small.dcm'), tmp_path / 'mr1.dcm')
    write_ct_series(str(tmp_path / 'mr'), hu_volume(3), [0.0, 1.0, 2.0], modality='MR')
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(DicomSeriesError, match=r'no axial CT series found .*MR.*\n  skipped .*notes.txt: not a DICOM'):
        read_dicom_series(str(tmp_path))
    os.makedirs(tmp_path / 'empty')
    (tmp_path / 'empty' / 'a.txt').write_text('x')
    with pytest.raises(DicomSeriesError, match=r'empty: no DICOM image files found\n  skipped .*a.txt: not a DICOM'):
        read_dicom_series(str(tmp_path / 'empty'))


def test_two_acquisitions_at_the_same_positions(tmp_path):
    uid = write_ct_series(str(tmp_path / 's'), hu_volume(3), [0.0, 1.0, 2.0], prefix='a')
    write_ct_series(str(tmp_path / 's'), hu_volume(3, seed=1), [0.0, 1.0, 2.0], prefix='b', series_uid=uid)
    with pytest.raises(DicomSeriesError, match=r'a000.dcm and .*b000.dcm lie at the same slice position 0.000 mm '
                                               r'\(two acquisitions in one series'):
        read_dicom_series(str(tmp_path / 's'))


def test_unreadable_compressed_data(tmp_path):
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless
    write_ct_series(str(tmp_path / 's'), hu_volume(2, 16, 16), [0.0, 1.0])
    path = str(tmp_path / 's' / 'im001.dcm')
    _compressed_copy(path, path, RLELossless)
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([b'\x01\x00\x00\x00' + b'\x00' * 60 + b'garbage'])
    ds.save_as(path)
    with pytest.raises(DicomSeriesError, match=r'im001.dcm: cannot decode PixelData with transfer syntax RLE '
                                               r'Lossless'):
        read_dicom_series(str(tmp_path / 's'))


def test_mixed_image_sizes_named(tmp_path):
    uid = write_ct_series(str(tmp_path / 's'), hu_volume(2, 8, 8), [0.0, 1.0], prefix='a')
    write_ct_series(str(tmp_path / 's'), hu_volume(1, 8, 10), [2.0], prefix='b', series_uid=uid)
    with pytest.raises(DicomSeriesError, match=r'mixes image sizes \(Rows x Columns\): .*a000.dcm has 8x8, .*b000.dcm '
                                               r'has 8x10'):
        read_dicom_series(str(tmp_path / 's'))


def test_real_jpeg_extended_files(tmp_path):
    """pydicom's 12-bit JPEG extended file decodes through the libjpeg plugin; its JPEG-lossy.dcm, whose stream
    libjpeg refuses, is a clear error naming the file and the transfer syntax."""
    pytest.importorskip('libjpeg')
    for src, dst in (('JPGExtended.dcm', 'ext.dcm'), ('JPEG-lossy.dcm', 'lossy.dcm')):
        ds = pydicom.dcmread(get_testdata_file(src))
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.20'  # secondary capture: NM
        ds.save_as(str(tmp_path / dst))
    vol = read_dicom_series(str(tmp_path / 'ext.dcm'), allow_non_ct=True)
    assert vol.hu.shape == (1, 1024, 256) and 0 <= vol.hu.min() and vol.hu.max() < 4096
    np.testing.assert_array_equal(vol.hu[0, 420, 140:145], pydicom.dcmread(str(tmp_path / 'ext.dcm')).pixel_array[
        420, 140:145])
    with pytest.raises(DicomSeriesError, match=r'lossy.dcm: cannot decode PixelData with transfer syntax JPEG '
                                               r'Extended \(Process 2 and 4\)'):
        read_dicom_series(str(tmp_path / 'lossy.dcm'), allow_non_ct=True)
