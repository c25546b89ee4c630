"""The patient-level split of a prepared volume dataset: the dataset's own, a split file, or seeded fractions.

Whatever the method, no patient has cases in two splits (a split file or a dataset that does so is refused, naming
the patient and the cases).
"""
import csv
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .volume_sources.base import SPLITS, VolumeDatasetError

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def read_split_file(path: str) -> Dict[str, str]:
    """``{case_id: split}`` from a CSV (rows ``case_id,split``, a header row optional) or a JSON object
    ``{case_id: split}``; splits are ``train``, ``val`` or ``test``.

    Raises:
        VolumeDatasetError: an unreadable file, a row without two values, an unknown split, a case listed twice
            (naming the line or key).
    """
    if not osp.isfile(path):
        raise VolumeDatasetError(f'{path}: no such split file')
    out: Dict[str, str] = {}
    if path.lower().endswith('.json'):
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except ValueError as e:
            raise VolumeDatasetError(f'{path}: not a readable JSON file ({e})') from e
        if not isinstance(data, dict):
            raise VolumeDatasetError(f'{path}: expected an object {{case_id: split}}')
        for cid, split in data.items():
            if split not in SPLITS:
                raise VolumeDatasetError(f'{path}: case {cid!r}: split {split!r} is not one of {SPLITS}')
            out[str(cid)] = split
        return out
    with open(path, newline='', encoding='utf-8-sig') as f:
        rows = list(csv.reader(f))
    for n, row in enumerate(rows, start=1):
        row = [v.strip() for v in row]
        if not row or not any(row):
            continue
        if n == 1 and [v.lower() for v in row[:2]] == ['case_id', 'split']:
            continue
        if len(row) < 2:
            raise VolumeDatasetError(f'{path} line {n}: expected case_id,split, got {row}')
        cid, split = row[0], row[1]
        if split not in SPLITS:
            raise VolumeDatasetError(f'{path} line {n}, column split: {split!r} is not one of {SPLITS}')
        if cid in out:
            raise VolumeDatasetError(f'{path} line {n}: case {cid!r} listed twice')
        out[cid] = split
    return out


def check_fractions(fractions: Sequence[float]) -> Tuple[float, float, float]:
    """Three non-negative fractions (train, val, test) that sum to 1."""
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3 or any(not np.isfinite(f) or f < 0 for f in fr) or abs(sum(fr) - 1) > 1e-6:
        raise VolumeDatasetError(f'split fractions {list(fractions)}: give three non-negative numbers (train, val, '
                                 'test) that sum to 1')
    return fr


def seeded_patient_split(patient_ids: Sequence[str], fractions: Sequence[float], seed: int) -> Dict[str, str]:
    """``{patient_id: split}``: the sorted distinct patients shuffled by ``numpy.random.default_rng(seed)``, the
    first ``n_train`` to train, the next ``n_val`` to val, the rest to test; the counts are the fractions of the
    number of patients rounded by largest remainder (so they sum to it)."""
    fr = check_fractions(fractions)
    patients = sorted(set(patient_ids))
    n = len(patients)
    exact = np.array(fr) * n
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind='stable')[:n - counts.sum()]:
        counts[i] += 1
    order = np.random.default_rng(seed).permutation(n)
    out = {}
    bounds = np.cumsum(counts)
    for rank, p in enumerate(order):
        out[patients[p]] = SPLITS[int(np.searchsorted(bounds, rank, side='right'))]
    return out


def check_patients(assigned: Dict[str, str], patients: Dict[str, str], where: str) -> None:
    """Refuse a patient whose cases lie in two splits (``assigned``: case -> split, ``patients``: case ->
    patient)."""
    by_patient: Dict[str, Dict[str, List[str]]] = {}
    for cid, split in assigned.items():
        by_patient.setdefault(patients[cid], {}).setdefault(split, []).append(cid)
    for p, splits in sorted(by_patient.items()):
        if len(splits) > 1:
            listing = '; '.join(f'{s}: {", ".join(c)}' for s, c in sorted(splits.items()))
            raise VolumeDatasetError(f'{where} puts patient {p!r} in {len(splits)} splits ({listing}); a patient\'s '
                                     'cases must share one split')


def assign_splits(case_ids: Sequence[str], patients: Dict[str, str], dataset_splits: Dict[str, Optional[str]],
                  fractions: Optional[Sequence[float]] = None, split_file: Optional[str] = None,
                  seed: int = 0) -> Tuple[Dict[str, str], dict]:
    """Each case's split and the index's ``split`` record.

    The method: ``split_file`` given → ``"file"`` (every case must be listed; cases the file lists beyond the
    dataset are ignored); else ``fractions`` given, or the dataset assigns no split → ``"seeded"``
    (:func:`seeded_patient_split`, :data:`DEFAULT_FRACTIONS` by default); else ``"dataset"``.

    Args:
        case_ids (Sequence[str]): the cases.
        patients (dict): case -> patient id.
        dataset_splits (dict): case -> the dataset's own split (None where it has none).
        fractions (Sequence[float], optional): train, val, test fractions.
        split_file (str, optional): see :func:`read_split_file`.
        seed (int): the seeded split's seed. Defaults to 0.

    Returns:
        tuple: ``{case_id: split}`` and ``{"method", "seed", "fractions"}`` (plus ``"file"`` for a file).
    """
    if split_file is not None and fractions is not None:
        raise VolumeDatasetError('give either split fractions or a split file, not both')
    if split_file is not None:
        listed = read_split_file(split_file)
        missing = [c for c in case_ids if c not in listed]
        if missing:
            raise VolumeDatasetError(f'{split_file} gives no split for {len(missing)} case(s): '
                                     f'{", ".join(missing[:10])}{" ..." if len(missing) > 10 else ""}')
        assigned = {c: listed[c] for c in case_ids}
        check_patients(assigned, patients, split_file)
        return assigned, dict(method='file', seed=None, fractions=None, file=osp.abspath(split_file))
    own = all(dataset_splits.get(c) for c in case_ids) and len(case_ids) > 0
    if fractions is None and own:
        assigned = {c: dataset_splits[c] for c in case_ids}
        check_patients(assigned, patients, 'the dataset\'s own split')
        return assigned, dict(method='dataset', seed=None, fractions=None)
    fr = check_fractions(DEFAULT_FRACTIONS if fractions is None else fractions)
    by_patient = seeded_patient_split([patients[c] for c in case_ids], fr, seed)
    return {c: by_patient[patients[c]] for c in case_ids}, dict(method='seeded', seed=int(seed), fractions=list(fr))


__all__ = ['SPLITS', 'DEFAULT_FRACTIONS', 'read_split_file', 'check_fractions', 'seeded_patient_split',
           'check_patients', 'assign_splits']
