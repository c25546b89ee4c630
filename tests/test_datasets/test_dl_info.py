import math

import pytest

from mmdet3dctx.datasets.dl_info import (DL_INFO_COLUMNS, SPLITS, DLInfoError, file_name_to_img_path,
                                         group_key_slices, load_key_slices, read_dl_info, select_split,
                                         split_counts)
from mmdet3dctx.testing.deeplesion_files import row, write_csv


def test_columns_are_the_18_of_deeplesion():
    assert len(DL_INFO_COLUMNS) == 18
    assert DL_INFO_COLUMNS[0] == 'File_name' and DL_INFO_COLUMNS[-1] == 'Train_Val_Test'


def test_file_name_to_img_path():
    assert file_name_to_img_path('000001_01_01_103.png') == 'Images_png/000001_01_01/103.png'


def test_key_slice_fields_are_zero_based(tmp_path):
    csv_path = write_csv(
        tmp_path / 'DL_info.csv',
        [row(Measurement_coordinates='233.537, 95.0204, 234.892, 114.243, 248.29, 101.622, 225.386, 104.486',
             Bounding_boxes='226.169, 90.0204, 241.252, 119.243', Lesion_diameters_Pixel_='19.2278, 6.07457',
             Spacing_mm_px_='0.78125, 0.78125, 5', Image_size='512, 512', Coarse_lesion_type='3',
             Slice_range='5, 15', DICOM_windows='-175, 275', Patient_age='')])
    (info, ) = load_key_slices(str(csv_path))
    assert info['file_name'] == '000001_01_01_010.png'
    assert info['img_path'] == 'Images_png/000001_01_01/010.png'
    assert info['key_slice'] == 10 and info['slice_range'] == (5, 15)
    assert info['slice_interval'] == 5.0 and info['spacing'] == (0.78125, 0.78125)
    assert info['image_size'] == (512, 512) and info['dicom_window'] == (-175.0, 275.0)
    assert info['sex'] == 'F' and math.isnan(info['age']) and info['split'] == 1
    (ins, ) = info['instances']
    assert ins['bbox'] == pytest.approx([225.169, 89.0204, 240.252, 118.243], abs=1e-12)
    assert ins['recist'] == pytest.approx([232.537, 94.0204, 233.892, 113.243, 247.29, 100.622, 224.386, 103.486],
                                          abs=1e-12)
    assert ins['diameters_mm'] == pytest.approx((19.2278 * 0.78125, 6.07457 * 0.78125))
    assert ins['bbox_label'] == 0 and ins['ignore_flag'] == 0
    assert ins['lesion_type'] == 3 and ins['noisy'] is False


def test_nan_interval_and_age(tmp_path):
    csv_path = write_csv(tmp_path / 'a.csv', [row(Spacing_mm_px_='0.8, 0.8, nan', Patient_age='')])
    info = load_key_slices(str(csv_path))[0]
    assert math.isnan(info['slice_interval']) and math.isnan(info['age'])
    csv_path = write_csv(tmp_path / 'b.csv', [row(Spacing_mm_px_='0.8, 0.8', Patient_age='47')])
    info = load_key_slices(str(csv_path))[0]
    assert math.isnan(info['slice_interval']) and info['age'] == 47.0


def _split_tree(tmp_path):
    rows = [
        row(key=10, patient=1),  # train
        row(key=20, patient=1, Possibly_noisy=1),  # train, only a noisy lesion: dropped with skip_noisy
        row(key=30, patient=1),  # train, two lesions, one noisy
        row(key=30, patient=1, Possibly_noisy=1),
        row(key=10, patient=2, Train_Val_Test=2, Coarse_lesion_type=4),  # val
        row(key=11, patient=2, Train_Val_Test=2, Coarse_lesion_type=5, Possibly_noisy=1),  # val, noisy only
        row(key=10, patient=3, Train_Val_Test=3, Coarse_lesion_type=1),  # test, two lesions
        row(key=10, patient=3, Train_Val_Test=3, Coarse_lesion_type=2),
    ]
    for r in rows:
        r['Slice_range'] = '1, 40'
    return str(write_csv(tmp_path / 'DL_info.csv', rows))


def test_split_counts_with_noisy_rows(tmp_path):
    csv_path = _split_tree(tmp_path)
    assert len(read_dl_info(csv_path)) == 8
    assert split_counts(load_key_slices(csv_path, skip_noisy=False)) == {1: 3, 2: 2, 3: 1}
    assert split_counts(load_key_slices(csv_path)) == {1: 2, 2: 1, 3: 1}
    train = load_key_slices(csv_path, split='train')
    assert [i['key_slice'] for i in train] == [10, 30]
    assert [len(i['instances']) for i in train] == [1, 1]
    train_all = load_key_slices(csv_path, split=1, skip_noisy=False)
    assert [[ins['noisy'] for ins in i['instances']] for i in train_all] == [[False], [True], [False, True]]
    test = load_key_slices(csv_path, split='test')
    assert [ins['lesion_type'] for ins in test[0]['instances']] == [1, 2]
    assert test[0]['rows'] == [8, 9]  # CSV line numbers (header is line 1)


def test_select_split_by_name_or_code(tmp_path):
    infos = group_key_slices(read_dl_info(_split_tree(tmp_path)))
    assert SPLITS == {'train': 1, 'val': 2, 'test': 3}
    for name, code in SPLITS.items():
        by_name, by_code = select_split(infos, name), select_split(infos, code)
        assert by_name == by_code and {i['split'] for i in by_name} == {code}
    assert [(i['split'], i['key_slice']) for i in select_split(infos)] == [(1, 10), (1, 30), (2, 10), (3, 10)]
    kept = select_split(infos, 'TRAIN')
    assert [[ins['row'] for ins in i['instances']] for i in kept] == [[2], [4]]
    # the given key slices keep all their lesions; skip_noisy=False returns them as they are
    assert [len(i['instances']) for i in infos if i['split'] == 1] == [1, 1, 2]
    assert select_split(infos, 1, skip_noisy=False) == [i for i in infos if i['split'] == 1]
    with pytest.raises(ValueError, match=r"split must be one of \['test', 'train', 'val'\] or 1/2/3, got 4"):
        select_split(infos, 4)


def test_bad_split_name(tmp_path):
    with pytest.raises(ValueError, match='split'):
        load_key_slices(_split_tree(tmp_path), split='training')


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        read_dl_info(str(tmp_path / 'nope.csv'))


def test_missing_column_names_file_and_header(tmp_path):
    cols = [c for c in DL_INFO_COLUMNS if c != 'Bounding_boxes']
    csv_path = str(write_csv(tmp_path / 'DL_info.csv', [row()], columns=cols))
    with pytest.raises(DLInfoError, match=r"DL_info.csv: missing column\(s\) \['Bounding_boxes'\]"):
        read_dl_info(csv_path)


@pytest.mark.parametrize('cells, message', [
    (dict(Bounding_boxes='16, 21, x, 41'), "cannot parse 'x'"),
    (dict(Bounding_boxes='16, 21, 46'), 'Bounding_boxes needs 4'),
    (dict(Bounding_boxes='16, 21, 80, 41'), 'lies outside the 64x64 image'),
    (dict(Measurement_coordinates='21, 31, 41, 31, 31, 26, 31, 99'), 'lies outside'),
    (dict(Bounding_boxes='46, 21, 16, 41'), 'x2 < x1'),
    (dict(Key_slice_index='11'), 'disagrees with File_name'),
    (dict(Key_slice_index='ten'), "cannot parse 'ten'"),
    (dict(Slice_range='13, 15'), 'outside Slice_range'),
    (dict(Possibly_noisy='2'), 'Possibly_noisy'),
    (dict(Train_Val_Test='4'), 'Train_Val_Test'),
    (dict(Coarse_lesion_type='9'), 'Coarse_lesion_type'),
    (dict(Spacing_mm_px_='0, 0.8, 1'), 'spacing must be positive'),
    (dict(Patient_age='old'), 'Patient_age'),
    (dict(File_name='slice10.png'), 'PPPPPP_SS_ss_KKK.png'),
])
def test_bad_rows_name_file_and_row(tmp_path, cells, message):
    rows = [row(key=10), row(key=12, **cells)]
    if 'File_name' in cells:
        rows[1]['File_name'] = cells['File_name']
    csv_path = str(write_csv(tmp_path / 'DL_info.csv', rows))
    with pytest.raises(DLInfoError) as exc:
        read_dl_info(csv_path)
    assert str(exc.value).startswith(f'{csv_path}, row 3 ')
    assert message in str(exc.value)


def test_inconsistent_key_slice_rows(tmp_path):
    csv_path = str(write_csv(tmp_path / 'DL_info.csv', [row(), row(Slice_range='4, 15')]))
    with pytest.raises(DLInfoError, match=r'row 3 .*Slice_range=\(4, 15\) disagrees with \(5, 15\) on row 2'):
        load_key_slices(csv_path)


def test_short_row(tmp_path):
    csv_path = tmp_path / 'DL_info.csv'
    write_csv(csv_path, [row()])
    with open(csv_path, 'a') as f:
        f.write('000001_01_01_011.png,1,1,1,11\n')
    with pytest.raises(DLInfoError, match='row 3: expected 18 cells'):
        read_dl_info(str(csv_path))
