"""Patient-level splits: seeded fractions that never part a patient's cases, split files (CSV, JSON), the dataset's
own split; refusals naming the patient, case or line."""
import json

import pytest

from mmdet3dctx.datasets.volume_sources import VolumeDatasetError
from mmdet3dctx.datasets.volume_split import assign_splits, read_split_file, seeded_patient_split

CASES = [f'c{i}' for i in range(10)]
PATIENTS = {c: f'p{i // 2}' for i, c in enumerate(CASES)}  # two cases per patient


def test_seeded_split_keeps_patients_whole_and_counts_patients():
    assigned, record = assign_splits(CASES, PATIENTS, {}, fractions=(0.6, 0.2, 0.2), seed=3)
    assert record == dict(method='seeded', seed=3, fractions=[0.6, 0.2, 0.2])
    for i in range(0, 10, 2):
        assert assigned[f'c{i}'] == assigned[f'c{i + 1}']
    per_patient = seeded_patient_split(sorted(set(PATIENTS.values())), (0.6, 0.2, 0.2), 3)
    assert sorted(per_patient.values()) == ['test', 'train', 'train', 'train', 'val']
    assert assign_splits(CASES, PATIENTS, {}, fractions=(0.6, 0.2, 0.2), seed=3)[0] == assigned
    assert assign_splits(CASES, PATIENTS, {}, fractions=(0.6, 0.2, 0.2), seed=4)[0] != assigned


def test_default_is_the_datasets_own_split_else_seeded():
    own = {c: ('test' if PATIENTS[c] == 'p4' else 'train') for c in CASES}
    assigned, record = assign_splits(CASES, PATIENTS, own)
    assert record['method'] == 'dataset' and assigned == own
    assigned, record = assign_splits(CASES, PATIENTS, {c: None for c in CASES})
    assert record == dict(method='seeded', seed=0, fractions=[0.7, 0.15, 0.15])
    assert assign_splits(CASES, PATIENTS, own, fractions=(1, 0, 0))[0] == {c: 'train' for c in CASES}


def test_split_files(tmp_path):
    csv_file = tmp_path / 'split.csv'
    csv_file.write_text('case_id,split\n' + ''.join(f'{c},{"val" if c in ("c0", "c1") else "train"}\n'
                                                    for c in CASES) + 'other,test\n')
    assigned, record = assign_splits(CASES, PATIENTS, {}, split_file=str(csv_file))
    assert record['method'] == 'file' and assigned['c0'] == 'val' and assigned['c2'] == 'train'
    json_file = tmp_path / 'split.json'
    json_file.write_text(json.dumps({c: 'test' for c in CASES}))
    assert set(assign_splits(CASES, PATIENTS, {}, split_file=str(json_file))[0].values()) == {'test'}


def test_split_refusals(tmp_path):
    bad = tmp_path / 'bad.csv'
    bad.write_text('c0,train\nc1,training\n')
    with pytest.raises(VolumeDatasetError, match=r'bad.csv line 2, column split: .training.'):
        read_split_file(str(bad))
    apart = tmp_path / 'apart.csv'
    apart.write_text(''.join(f'{c},{"val" if c == "c1" else "train"}\n' for c in CASES))
    with pytest.raises(VolumeDatasetError, match=r"apart.csv puts patient 'p0' in 2 splits \(train: c0; val: c1\)"):
        assign_splits(CASES, PATIENTS, {}, split_file=str(apart))
    short = tmp_path / 'short.csv'
    short.write_text('c0,train\n')
    with pytest.raises(VolumeDatasetError, match='short.csv gives no split for 9 case'):
        assign_splits(CASES, PATIENTS, {}, split_file=str(short))
    with pytest.raises(VolumeDatasetError, match='sum to 1'):
        assign_splits(CASES, PATIENTS, {}, fractions=(0.5, 0.2, 0.2))
    with pytest.raises(VolumeDatasetError, match="patient 'p0'"):
        assign_splits(CASES, PATIENTS, {c: 'val' if c == 'c0' else 'train' for c in CASES})
