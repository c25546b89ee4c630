import hashlib
import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmdet3dctx.datasets.dl_info import DL_INFO_COLUMNS, load_key_slices, read_dl_info, split_counts
from mmdet3dctx.testing.synthetic_deeplesion import (NoiseModel, ct_noise, make_synthetic_deeplesion, paint_ellipse,
                                                     synthesize_patient)


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    return make_synthetic_deeplesion(str(tmp_path_factory.mktemp('syn')), num_patients=12, seed=3, image_size=128)


def _digest(root):
    h = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            h.update(osp.relpath(osp.join(dirpath, name), root).encode())
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(f.read())
    return h.hexdigest()


def test_deterministic_for_a_seed(tree, tmp_path):
    again = make_synthetic_deeplesion(str(tmp_path / 'a'), num_patients=12, seed=3, image_size=128)
    assert _digest(again) == _digest(tree)
    other = make_synthetic_deeplesion(str(tmp_path / 'b'), num_patients=12, seed=4, image_size=128)
    assert _digest(other) != _digest(tree)


def test_never_overwrites(tree):
    with pytest.raises(FileExistsError, match='DL_info.csv exists'):
        make_synthetic_deeplesion(tree, num_patients=2, seed=0, image_size=128)


def test_exact_deeplesion_format(tree):
    with open(osp.join(tree, 'DL_info.csv')) as f:
        header = f.readline().strip().split(',')
    assert tuple(header) == DL_INFO_COLUMNS
    rows = read_dl_info(osp.join(tree, 'DL_info.csv'))  # validates every row
    assert len({r['Patient_index'] for r in rows}) == 12
    intervals = {r['Spacing_mm_px_'][2] for r in rows}
    assert min(intervals) >= 0.6 and max(intervals) <= 5.0 and len(intervals) >= 3
    assert any(r['Possibly_noisy'] for r in rows)
    # Lesion types only on val/test, as in DeepLesion.
    assert all((r['Coarse_lesion_type'] == -1) == (r['Train_Val_Test'] == 1) for r in rows)
    for r in rows:
        png = cv2.imread(osp.join(tree, 'Images_png', r['File_name'][:12], r['File_name'][13:]), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (128, 128)
        first, last = r['Slice_range']
        for i in (first, last):
            assert osp.exists(osp.join(tree, 'Images_png', r['File_name'][:12], f'{i:03d}.png'))
        # Boxes are the RECIST extent padded by 5 px (1-based, clipped to the image).
        xs, ys = r['Measurement_coordinates'][0::2], r['Measurement_coordinates'][1::2]
        exp = [max(min(xs) - 5, 1), max(min(ys) - 5, 1), min(max(xs) + 5, 128), min(max(ys) + 5, 128)]
        np.testing.assert_allclose(r['Bounding_boxes'], exp, atol=1e-3)
        long_px = math.dist(r['Measurement_coordinates'][0:2], r['Measurement_coordinates'][2:4])
        assert r['Lesion_diameters_Pixel_'][0] == pytest.approx(long_px, rel=1e-4)
    # Some key slices at (or next to) an end of their series.
    assert any(min(r['Key_slice_index'] - r['Slice_range'][0], r['Slice_range'][1] - r['Key_slice_index']) <= 1
               for r in rows)


def test_splits_by_patient(tree):
    infos = load_key_slices(osp.join(tree, 'DL_info.csv'), skip_noisy=False)
    counts = split_counts(infos)
    assert counts[1] > counts[2] > 0 and counts[3] > 0
    split_of = {}
    for info in infos:
        assert split_of.setdefault(info['patient_index'], info['split']) == info['split']
    assert sorted(split_of.values()).count(2) == 2 and sorted(split_of.values()).count(3) == 2


def test_png_holds_hu_plus_32768(tree):
    info = load_key_slices(osp.join(tree, 'DL_info.csv'))[0]
    png = cv2.imread(osp.join(tree, info['img_path']), cv2.IMREAD_UNCHANGED).astype(np.int32) - 32768
    assert png[0, 0] == pytest.approx(-1000, abs=60)  # air in the corner
    assert -1100 < png.min() and png.max() < 1000


def test_lesions_vanish_tubes_persist():
    """On the key slice a lesion and a tube look alike; only the neighbouring slices tell them apart."""
    series = [s for p in range(1, 9) for s in synthesize_patient(p, seed=1, split=1, image_size=256)]
    assert sum(len(s.tubes) for s in series) >= 2 * len(series)
    for s in series:
        for les in s.lesions:
            key = s.render(les.key_slice).astype(np.float32)
            base = s.anatomy
            cx, cy = int(round(les.cx)), int(round(les.cy))
            patch = (slice(cy - 1, cy + 2), slice(cx - 1, cx + 2))
            assert (key[patch] - base[patch]).mean() == pytest.approx(les.contrast, abs=12)
            # Every slice farther than the lesion's z semi-axis shows no lesion.
            for i in range(s.first, s.last + 1):
                if abs(s.z(i) - les.cz) >= les.cz_radius and all(
                        t.section(s.z(i)) is None or math.hypot(t.section(s.z(i))[0] - cx, t.section(s.z(i))[1] - cy)
                        > t.radius * 1.5 + 3 for t in s.tubes):
                    assert abs((s.render(i)[patch] - base[patch]).mean()) < 12
            assert 2.0 <= les.cz_radius <= 4.0
        for tube in s.tubes:
            for i in range(s.first, s.last + 1):
                tx, ty, a, b, _, _ = tube.section(s.z(i))
                tx, ty = int(round(tx)), int(round(ty))
                if 1 <= tx < s.size - 1 and 1 <= ty < s.size - 1:
                    patch = (slice(ty - 1, ty + 2), slice(tx - 1, tx + 2))
                    assert (s.render(i)[patch] - s.anatomy[patch]).mean() == pytest.approx(tube.contrast, abs=12)
    # Same size and contrast distributions on the key slice.
    radii_l = [les.b for s in series for les in s.lesions]
    radii_t = [t.radius for s in series for t in s.tubes]
    assert min(radii_t) >= 0.7 * min(radii_l) and max(radii_t) <= max(les.a for s in series for les in s.lesions)
    assert {np.sign(les.contrast) for s in series for les in s.lesions} == {-1.0, 1.0}
    assert {np.sign(t.contrast) for s in series for t in s.tubes} == {-1.0, 1.0}


def test_paint_ellipse_area():
    img = np.zeros((200, 200), np.float32)
    paint_ellipse(img, 99.5, 99.5, 40, 20, 0.3, 1.0)
    assert img.sum() == pytest.approx(math.pi * 40 * 20, rel=0.01)
    assert img.max() == 1.0 and img.min() == 0.0


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='image_size'):
        make_synthetic_deeplesion(str(tmp_path), image_size=32)
    with pytest.raises(ValueError, match='num_patients'):
        make_synthetic_deeplesion(str(tmp_path), num_patients=0)
    with pytest.raises(ValueError, match='noise'):
        make_synthetic_deeplesion(str(tmp_path), noise_hu=-1)
    with pytest.raises(ValueError, match='noise'):
        make_synthetic_deeplesion(str(tmp_path), noise_ref_mm=0)
    with pytest.raises(ValueError, match='noise'):
        make_synthetic_deeplesion(str(tmp_path), noise_hu=(16.0, 4.0))
    with pytest.raises(ValueError, match='contrast_scale'):
        make_synthetic_deeplesion(str(tmp_path), contrast_scale=0.0)
    with pytest.raises(ValueError, match='noise'):  # the in-memory entry point checks the same
        synthesize_patient(0, seed=0, split=1, noise_hu=(16.0, 4.0))
    with pytest.raises(ValueError, match='contrast_scale'):
        synthesize_patient(0, seed=0, split=1, contrast_scale=-1.0)


def test_ct_noise_per_slice_independent_and_textured():
    white = [ct_noise((256, 256), 30.0, 0.0, [5, i]) for i in (0, 1)]
    assert white[0].std() == pytest.approx(30, rel=0.03) and abs(white[0].mean()) < 1
    assert abs(np.corrcoef(white[0].ravel(), white[1].ravel())[0, 1]) < 0.02  # slice to slice
    assert abs(np.corrcoef(white[0][:, 1:].ravel(), white[0][:, :-1].ravel())[0, 1]) < 0.02  # pixel to pixel
    np.testing.assert_array_equal(ct_noise((256, 256), 30.0, 0.0, [5, 0]), white[0])  # deterministic
    grain = [ct_noise((256, 256), 30.0, 1.0, [5, i]) for i in (0, 1)]
    assert grain[0].std() == pytest.approx(30, rel=0.05)
    assert np.corrcoef(grain[0][:, 1:].ravel(), grain[0][:, :-1].ravel())[0, 1] > 0.6  # CT-like grain
    assert abs(np.corrcoef(grain[0].ravel(), grain[1].ravel())[0, 1]) < 0.05


def test_noise_grows_for_thin_slices():
    assert NoiseModel(10.0).sigma(0.625) == NoiseModel(10.0).sigma(5.0) == 10.0
    model = NoiseModel(10.0, ref_mm=5.0)
    assert model.sigma(5.0) == pytest.approx(10.0) and model.sigma(1.25) == pytest.approx(20.0)
    series = [s for p in range(1, 9) for s in synthesize_patient(p, 0, 1, 128, noise_hu=10.0, noise_ref_mm=5.0)]
    assert len({s.interval for s in series}) >= 3
    for s in series:
        assert s.noise_hu == pytest.approx(10.0 * math.sqrt(5.0 / s.interval))
        flat = s.render(s.first).astype(np.float32) - s.anatomy  # noise + objects; the corner is air, no object
        assert flat[:24, :24].std() == pytest.approx(s.noise_hu, rel=0.2)


def test_noise_range_varies_from_series_to_series():
    model = NoiseModel((4.0, 16.0), ref_mm=5.0)
    levels = [model.sigma(5.0, seed) for seed in range(400)]
    assert 4.0 <= min(levels) < 4.5 and 15.0 < max(levels) <= 16.0
    assert np.median(levels) == pytest.approx(8.0, rel=0.1)  # log-uniform: the geometric mean in the middle
    assert model.sigma(1.25, 7) == pytest.approx(2 * model.sigma(5.0, 7))  # same draw, thickness scaling on top
    series = [s for p in range(1, 9) for s in synthesize_patient(p, 0, 1, 128, noise_hu=(4.0, 16.0))]
    assert len({round(s.noise_hu, 6) for s in series}) == len(series)
    again = [s for p in range(1, 9) for s in synthesize_patient(p, 0, 1, 128, noise_hu=(4.0, 16.0))]
    assert [s.noise_hu for s in series] == [s.noise_hu for s in again]


def test_contrast_scale_keeps_the_geometry():
    ref = synthesize_patient(4, 0, 3, 128)
    low = synthesize_patient(4, 0, 3, 128, noise_hu=20.0, noise_blur_px=1.0, contrast_scale=0.5)
    for a, b in zip(ref, low):
        assert (a.first, a.last, a.interval, a.spacing) == (b.first, b.last, b.interval, b.spacing)
        for la, lb in zip(a.lesions + a.tubes, b.lesions + b.tubes):
            assert (la.cx, la.cy) == (lb.cx, lb.cy) and lb.contrast == pytest.approx(0.5 * la.contrast)
        assert (b.noise_hu, b.noise_blur_px) == (20.0, 1.0)


def _auc(pos, neg):
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def test_only_3d_context_separates_lesions_from_tubes():
    """Key-slice contrast and size do not tell tubes from lesions (AUC ~ 0.5); persistence 4 mm away does."""
    feats = {True: [], False: []}
    for p in range(1, 13):
        for s in synthesize_patient(p, seed=0, split=1, image_size=128):
            for key in s.key_slices:
                slices = {i: s.render(i).astype(np.float32) - s.anatomy for i in range(s.first, s.last + 1)}

                def contrast(dz, x, y):
                    pos = min(max(key + dz / s.interval, s.first), s.last)
                    i0 = int(math.floor(pos))
                    w = pos - i0
                    xi, yi = int(round(x)), int(round(y))
                    v = [slices[min(i, s.last)][yi - 1:yi + 2, xi - 1:xi + 2].mean() for i in (i0, i0 + 1)]
                    return (1 - w) * v[0] + w * v[1]

                objs = [(les.cx, les.cy, les.b, True) for les in s.lesions if les.key_slice == key]
                objs += [(t.section(s.z(key))[0], t.section(s.z(key))[1], t.radius, False) for t in s.tubes]
                for x, y, r, is_lesion in objs:
                    c0 = abs(contrast(0, x, y))
                    c4 = (abs(contrast(-4, x, y)) + abs(contrast(4, x, y))) / 2
                    feats[is_lesion].append((c0, r, c4 / max(c0, 1.0)))
    les, tub = np.array(feats[True]), np.array(feats[False])
    assert len(les) >= 15 and len(tub) >= len(les)
    assert abs(_auc(tub[:, 0], les[:, 0]) - 0.5) < 0.15  # key-slice contrast
    assert abs(_auc(tub[:, 1], les[:, 1]) - 0.5) < 0.15  # size
    assert _auc(tub[:, 2], les[:, 2]) > 0.95  # what remains 4 mm away


def test_noise_hides_objects_on_one_slice_not_on_several():
    """The noise knobs' 3D cue: objects are faint against per-slice noise (median contrast-to-noise per pixel ~4
    instead of ~11 with the defaults), and since the noise is independent from slice to slice, averaging k
    slices divides it by sqrt(k)."""
    noisy = dict(noise_hu=(5.0, 20.0), noise_ref_mm=5.0, contrast_scale=0.7)
    series = [s for p in range(1, 9) for s in synthesize_patient(p, 0, 1, 128, **noisy)]
    plain = [s for p in range(1, 9) for s in synthesize_patient(p, 0, 1, 128)]
    cnr = [abs(o.contrast) / s.noise_hu for s in series for o in s.lesions + s.tubes]
    cnr_plain = [abs(o.contrast) / s.noise_hu for s in plain for o in s.lesions + s.tubes]
    assert np.median(cnr) < 5 < 9 < np.median(cnr_plain)
    for s in series[:4]:
        air = [s.render(i)[:20, :20].astype(np.float32) - s.anatomy[:20, :20] for i in range(s.first, s.first + 4)]
        assert air[0].std() == pytest.approx(s.noise_hu, rel=0.2)
        assert np.mean(air, axis=0).std() == pytest.approx(s.noise_hu / 2, rel=0.25)
