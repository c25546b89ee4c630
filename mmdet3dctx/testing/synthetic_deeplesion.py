"""Synthetic DeepLesion: a small CT-like tree in exactly the DeepLesion format.

Plain Python/NumPy/OpenCV (no MMDetection import). Each series is a stack of axial slices of a CT-like body
(air, fat, soft tissue, organ-like blobs, sometimes lungs, a spine) with two kinds of round objects that look
the same on the key slice:

* **lesions** (annotated): compact ellipsoids centred on a key slice with a z semi-axis of 2-4 mm, so they
  shrink, fade and vanish within a few millimetres;
* **distractors** (not annotated): vessel-like tubes running through the whole series with a slight tilt, whose
  cross-section on any slice is a round blob of the same size and contrast distribution as a lesion.

Only the 3D context (the neighbouring slices) tells the two apart, as in real CT. Every slice gets its own
Gaussian quantum noise (``noise_hu``, optionally growing as ``1 / sqrt(thickness)`` for thin slices and with a
grainy in-plane texture), independent from slice to slice as CT noise is; with low contrast (``contrast_scale``)
a single slice is then an unreliable witness (the demo's tree, and what it does to A3D and to no fusion, is in
``configs/demo/a3d_7slice_synthetic.py``). Everything is drawn from ``numpy.random.default_rng`` seeded by
``(seed, patient_index)``, so a tree is a pure function of its arguments; the defaults (8 HU white noise, full
contrast) give the trees of earlier versions bit for bit.
"""
import csv
import math
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from mmdet3dctx.datasets.dl_info import DL_INFO_COLUMNS

#: Slice intervals (mm) drawn for the series, with their probabilities.
SLICE_INTERVALS = (0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 5.0)
SLICE_INTERVAL_PROBS = (0.10, 0.15, 0.15, 0.15, 0.20, 0.10, 0.15)
#: DICOM windows written to the CSV (low, high HU).
DICOM_WINDOWS = ((-175, 275), (-1350, 150), (-160, 240), (-1500, 500))
#: RECIST extent padding of ``Bounding_boxes`` (pixels), as in DeepLesion.
BOX_PADDING = 5.0


@dataclass
class Lesion:
    """A compact ellipsoid lesion; in-plane sizes in pixels, z in mm from the series' first slice."""
    cx: float
    cy: float
    cz: float
    a: float  # long in-plane semi-axis (px)
    b: float  # short in-plane semi-axis (px)
    theta: float  # orientation of the long axis (radians, image coordinates)
    cz_radius: float  # semi-axis along z (mm)
    contrast: float  # HU added to the tissue
    key_slice: int
    lesion_type: int
    noisy: bool = False

    def section(self, z: float) -> Optional[Tuple[float, float, float, float, float, float]]:
        """Cross-section ``(cx, cy, a, b, theta, contrast)`` at height ``z`` mm, None where it has vanished.

        Off the key slice the section shrinks by ``s = sqrt(1 - ((z - cz) / cz_radius)^2)`` and its contrast
        fades by the same factor (partial volume).
        """
        s2 = 1.0 - ((z - self.cz) / self.cz_radius)**2
        if s2 <= 0:
            return None
        s = math.sqrt(s2)
        return self.cx, self.cy, self.a * s, self.b * s, self.theta, self.contrast * s

    def recist(self) -> List[float]:
        """RECIST marks on the key slice, 0-based: long-axis endpoints then short-axis endpoints."""
        c, s = math.cos(self.theta), math.sin(self.theta)
        return [
            self.cx - self.a * c, self.cy - self.a * s, self.cx + self.a * c, self.cy + self.a * s,
            self.cx + self.b * s, self.cy - self.b * c, self.cx - self.b * s, self.cy + self.b * c
        ]


@dataclass
class Tube:
    """A vessel-like tube through the whole series; its centre drifts ``(vx, vy)`` px per mm of z."""
    cx: float  # centre at z = 0 (px)
    cy: float
    vx: float  # drift (px per mm of z)
    vy: float
    radius: float  # px
    contrast: float  # HU added to the tissue
    spacing: float  # pixel spacing (mm/px)

    def section(self, z: float) -> Tuple[float, float, float, float, float, float]:
        """Cross-section ``(cx, cy, a, b, theta, contrast)`` at height ``z`` mm.

        A tube tilted by ``phi`` from the z axis cuts a slice in an ellipse elongated by ``1 / cos(phi)`` along
        its drift; ``tan(phi)`` is the drift in mm per mm.
        """
        drift = math.hypot(self.vx, self.vy)
        theta = math.atan2(self.vy, self.vx) if drift > 0 else 0.0
        elong = math.sqrt(1.0 + (drift * self.spacing)**2)
        return (self.cx + self.vx * z, self.cy + self.vy * z, self.radius * elong, self.radius, theta,
                self.contrast)


@dataclass
class SyntheticSeries:
    """One CT series: its slices ``first..last``, spacing, anatomy and objects."""
    patient: int
    study: int
    series: int
    first: int
    last: int
    interval: float  # mm
    spacing: float  # mm/px, square pixels
    size: int
    anatomy: np.ndarray = field(repr=False)  # (size, size) float32 HU
    lesions: List[Lesion] = field(default_factory=list)
    tubes: List[Tube] = field(default_factory=list)
    noise_seed: int = 0
    noise_hu: float = 8.0  # standard deviation of the quantum noise of this series' slices (HU)
    noise_blur_px: float = 0.0  # in-plane correlation of the noise (Gaussian sigma, px); 0 = white

    def z(self, index: int) -> float:
        """Height (mm) of slice ``index`` above the first slice."""
        return (index - self.first) * self.interval

    @property
    def key_slices(self) -> List[int]:
        return sorted({les.key_slice for les in self.lesions})

    def render(self, index: int) -> np.ndarray:
        """The slice ``index`` in HU as an int16 ``(size, size)`` array (deterministic)."""
        if not self.first <= index <= self.last:
            raise IndexError(f'slice {index} outside {self.first}..{self.last}')
        img = self.anatomy.copy()
        z = self.z(index)
        for obj in list(self.tubes) + list(self.lesions):
            sec = obj.section(z)
            if sec is not None:
                paint_ellipse(img, *sec)
        img += ct_noise(img.shape, self.noise_hu, self.noise_blur_px, [self.noise_seed, index])
        return np.clip(np.rint(img), -32768, 32767).astype(np.int16)


def ct_noise(shape: Tuple[int, int], sigma: float, blur_px: float, seed) -> np.ndarray:
    """Quantum noise of one slice: Gaussian, ``sigma`` HU per pixel, independent from slice to slice (``seed``).

    With ``blur_px > 0`` white noise is low-passed by a Gaussian of that sigma (px) and rescaled to ``sigma``,
    so it has CT's grainy texture (blobs of a few pixels) instead of pixel-wise speckle.
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(shape, dtype=np.float32)
    if blur_px > 0:
        ksize = 2 * int(math.ceil(4 * blur_px)) + 1
        noise = cv2.GaussianBlur(noise, (ksize, ksize), float(blur_px), borderType=cv2.BORDER_REFLECT)
        k = cv2.getGaussianKernel(ksize, float(blur_px)).ravel().astype(np.float64)
        noise *= np.float32(1.0 / float((k**2).sum()))  # the blur's std is sum(k^2) of its 1-D kernel k
    return noise * np.float32(sigma)


def paint_ellipse(img: np.ndarray, cx: float, cy: float, a: float, b: float, theta: float, value: float,
                  edge: float = 1.0) -> None:
    """Add ``value`` inside an ellipse, in place, with a linear edge ``edge`` px wide (anti-aliasing).

    Args:
        img (np.ndarray): float32 ``(H, W)`` image.
        cx, cy (float): Centre, 0-based pixel coordinates.
        a, b (float): Semi-axes in pixels along ``theta`` and across it.
        theta (float): Orientation of the ``a`` axis (radians).
        value (float): Added inside.
        edge (float): Width of the soft edge in pixels. Defaults to 1.
    """
    if a <= 0 or b <= 0:
        return
    h, w = img.shape
    r = max(a, b) + edge + 1
    x0, x1 = max(int(math.floor(cx - r)), 0), min(int(math.ceil(cx + r)) + 1, w)
    y0, y1 = max(int(math.floor(cy - r)), 0), min(int(math.ceil(cy + r)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    c, s = math.cos(theta), math.sin(theta)
    u = (dx * c + dy * s) / a
    v = (-dx * s + dy * c) / b
    rho = np.sqrt(u * u + v * v)
    alpha = np.clip((1.0 - rho) * min(a, b) / edge + 0.5, 0.0, 1.0)
    img[y0:y1, x0:x1] += alpha * np.float32(value)


def _ellipse_mask(size: int, cx, cy, ax, ay) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return ((xs - cx) / ax)**2 + ((ys - cy) / ay)**2 <= 1.0


def _anatomy(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """A CT-like axial slice (float32 HU) and the mask of soft tissue where objects may sit."""
    img = np.full((size, size), -1000.0, np.float32)
    cx, cy = size / 2 + rng.uniform(-0.02, 0.02) * size, size / 2 + rng.uniform(0, 0.03) * size
    bx, by = size * 0.42 * rng.uniform(0.85, 1.05), size * 0.32 * rng.uniform(0.85, 1.05)
    body = _ellipse_mask(size, cx, cy, bx, by)
    img[body] = -100.0  # subcutaneous fat
    inner = _ellipse_mask(size, cx, cy, bx * 0.9, by * 0.88)
    img[inner] = 40.0
    tissue = inner.copy()
    for _ in range(int(rng.integers(2, 4))):  # organ-like blobs
        ox, oy = cx + rng.uniform(-0.5, 0.5) * bx, cy + rng.uniform(-0.4, 0.4) * by
        org = _ellipse_mask(size, ox, oy, bx * rng.uniform(0.2, 0.4), by * rng.uniform(0.25, 0.5)) & inner
        img[org] += rng.uniform(-15, 25)
    chest = rng.random() < 0.5
    if chest:
        for side in (-1, 1):
            lung = _ellipse_mask(size, cx + side * 0.47 * bx, cy - 0.1 * by, 0.3 * bx, 0.55 * by) & inner
            img[lung] = -850.0
            tissue &= ~lung
    sx, sy, sr = cx, cy + 0.62 * by, 0.1 * bx
    spine = _ellipse_mask(size, sx, sy, sr, sr)
    img[spine] = 700.0
    img[_ellipse_mask(size, sx, sy, 0.7 * sr, 0.7 * sr)] = 250.0
    tissue &= ~_ellipse_mask(size, sx, sy, sr * 1.3, sr * 1.3)
    return img, tissue


def _inside(tissue: np.ndarray, cx: float, cy: float, r: float) -> bool:
    size = tissue.shape[0]
    for ang in np.linspace(0, 2 * np.pi, 9):
        x, y = cx + r * math.cos(ang), cy + r * math.sin(ang)
        xi, yi = int(round(x)), int(round(y))
        if not (0 <= xi < size and 0 <= yi < size and tissue[yi, xi]):
            return False
    return True


@dataclass(frozen=True)
class NoiseModel:
    """Per-slice CT quantum noise: ``noise_hu`` HU (at ``ref_mm`` slice thickness if given), ``blur_px`` texture.

    ``noise_hu`` may be a range ``(low, high)``: each series then draws its level log-uniformly from it (dose and
    patient size vary from scan to scan).
    """
    noise_hu: Union[float, Tuple[float, float]] = 8.0
    ref_mm: Optional[float] = None
    blur_px: float = 0.0

    def sigma(self, interval: float, seed: int = 0) -> float:
        """Noise of a series with this slice interval: ``noise_hu * sqrt(ref_mm / interval)`` (quantum noise
        goes with 1 / sqrt(dose per voxel), the voxel's thickness), or ``noise_hu`` when ``ref_mm`` is None.
        With a range, the level is drawn from ``default_rng([seed])`` (the series' noise seed)."""
        if isinstance(self.noise_hu, (tuple, list)):
            low, high = map(float, self.noise_hu)
            level = math.exp(np.random.default_rng([seed]).uniform(math.log(low), math.log(high)))
        else:
            level = float(self.noise_hu)
        if self.ref_mm is None:
            return level
        return level * math.sqrt(self.ref_mm / interval)


def _contrast(rng: np.random.Generator, scale: float = 1.0) -> float:
    # Hyper- or hypo-dense; lesions and tubes share this distribution so intensity alone tells nothing.
    return scale * float(rng.uniform(60, 140) if rng.random() < 0.6 else -rng.uniform(50, 100))


def _make_series(rng: np.random.Generator, patient: int, study: int, size: int, labelled: bool,
                 lesion_radius_mm: Tuple[float, float], noisy_prob: float, noise: NoiseModel,
                 contrast_scale: float) -> SyntheticSeries:
    interval = float(rng.choice(SLICE_INTERVALS, p=SLICE_INTERVAL_PROBS))
    spacing = float(rng.uniform(300.0, 400.0)) / size
    anatomy, tissue = _anatomy(rng, size)

    def margin() -> int:
        if rng.random() < 0.25:  # key slice at (or next to) an end of its series
            return int(rng.integers(0, 2))
        return int(rng.integers(2, max(3, min(12, math.ceil(16.0 / interval))) + 1))

    num_keys = 2 if rng.random() < 0.3 else 1
    gap = max(1, math.ceil(16.0 / interval))  # keys >= 16 mm apart: their lesions never overlap in z
    first = int(rng.integers(1, 60))
    keys = [first + margin()]
    if num_keys == 2:
        keys.append(keys[0] + gap + int(rng.integers(0, 3)))
    last = keys[-1] + margin()
    noise_seed = int(rng.integers(0, 2**31))
    series = SyntheticSeries(patient=patient, study=study, series=1, first=first, last=last, interval=interval,
                             spacing=spacing, size=size, anatomy=anatomy, noise_seed=noise_seed,
                             noise_hu=noise.sigma(interval, noise_seed), noise_blur_px=noise.blur_px)

    def radius_px() -> float:
        return float(rng.uniform(*lesion_radius_mm)) / spacing

    for key in keys:
        placed: List[Lesion] = []
        wanted = int(rng.choice((1, 2, 3), p=(0.6, 0.3, 0.1)))
        tries = 0
        # Every key slice gets at least one lesion: after 200 failed tries, the smallest size is drawn.
        while len(placed) < wanted and tries < 1000:
            tries += 1
            if tries > 200 * len(placed) + 200 and placed:
                break
            a = radius_px() if tries <= 200 else lesion_radius_mm[0] / spacing
            b = a * float(rng.uniform(0.7, 1.0))
            cx, cy = rng.uniform(0, size, 2)
            if _inside(tissue, cx, cy, a + 2) and all(
                    math.hypot(cx - o.cx, cy - o.cy) > a + o.a + 4 for o in placed):
                placed.append(
                    Lesion(cx=float(cx), cy=float(cy), cz=series.z(key), a=a, b=b, theta=float(rng.uniform(0, np.pi)),
                           cz_radius=float(np.clip(rng.uniform(0.4, 0.8) * a * spacing, 2.0, 4.0)),
                           contrast=_contrast(rng, contrast_scale), key_slice=key,
                           lesion_type=int(rng.integers(1, 9)) if labelled else -1,
                           noisy=bool(rng.random() < noisy_prob)))
        if not placed:
            raise RuntimeError(f'could not place a lesion in patient {patient} study {study}; '
                               'lesion_radius_mm too large for the body?')
        if labelled and all(les.noisy for les in placed):
            placed[0].noisy = False  # val/test key slices keep a clean lesion, so small trees have both splits
        series.lesions.extend(placed)

    z_mid = 0.5 * (series.z(first) + series.z(last))
    for _ in range(int(rng.integers(2, 5))):
        for _try in range(50):
            r = radius_px() * float(rng.uniform(0.8, 1.0))
            tilt = math.radians(rng.uniform(0, 25))  # from the z axis
            psi = rng.uniform(0, 2 * np.pi)
            v = math.tan(tilt) / spacing  # px per mm
            vx, vy = v * math.cos(psi), v * math.sin(psi)
            mx, my = rng.uniform(0, size, 2)
            tube = Tube(cx=float(mx - vx * z_mid), cy=float(my - vy * z_mid), vx=float(vx), vy=float(vy),
                        radius=r, contrast=_contrast(rng, contrast_scale), spacing=spacing)
            ok = True
            for key in keys:
                tx, ty = tube.cx + tube.vx * series.z(key), tube.cy + tube.vy * series.z(key)
                ok &= _inside(tissue, tx, ty, r + 2) and all(
                    math.hypot(tx - o.cx, ty - o.cy) > r + o.a + 4
                    for o in series.lesions if o.key_slice == key)
                ok &= all(
                    math.hypot(tx - (t.cx + t.vx * series.z(key)), ty - (t.cy + t.vy * series.z(key))) >
                    r + t.radius + 4 for t in series.tubes)
            if ok:
                series.tubes.append(tube)
                break
    return series


def _fmt(values: Sequence[float]) -> str:
    return ', '.join(f'{v:.6g}' for v in values)


def _assign_splits(num_patients: int, seed: int) -> List[int]:
    """Train/val/test (1/2/3) per patient, about 70/15/15, at least one val and test patient from 3 on."""
    order = np.random.default_rng([seed, 0]).permutation(num_patients)
    n_eval = max(1, round(0.15 * num_patients)) if num_patients >= 3 else 0
    splits = [1] * num_patients
    for i, p in enumerate(order):
        if i < n_eval:
            splits[p] = 3
        elif i < 2 * n_eval:
            splits[p] = 2
    return splits


def _check_appearance(noise_hu, noise_ref_mm, noise_blur_px, contrast_scale) -> None:
    """Refuse noise and contrast settings that would silently give a wrong tree (both public entry points)."""
    if isinstance(noise_hu, (tuple, list)):
        noise_ok = len(noise_hu) == 2 and 0 < noise_hu[0] <= noise_hu[1]
    else:
        noise_ok = noise_hu >= 0
    if not noise_ok or noise_blur_px < 0 or (noise_ref_mm is not None and noise_ref_mm <= 0):
        raise ValueError('noise_hu must be >= 0 or a range 0 < low <= high, noise_blur_px >= 0 and noise_ref_mm > 0; '
                         f'got {noise_hu}, {noise_blur_px}, {noise_ref_mm}')
    if not contrast_scale > 0:
        raise ValueError('contrast_scale must be > 0 (it scales the lesions\' and tubes\' contrast), '
                         f'got {contrast_scale}')


def synthesize_patient(patient: int, seed: int, split: int, image_size: int = 512,
                       lesion_radius_mm: Tuple[float, float] = (4.0, 12.0),
                       noisy_prob: float = 0.08,
                       noise_hu: Union[float, Tuple[float, float]] = 8.0,
                       noise_ref_mm: Optional[float] = None,
                       noise_blur_px: float = 0.0,
                       contrast_scale: float = 1.0) -> List[SyntheticSeries]:
    """The series of one synthetic patient (1 or 2 studies, one series each), without writing anything.

    Args:
        patient (int): 1-based patient index.
        seed (int): Seed of the whole tree.
        split (int): 1/2/3; lesions of val/test get a lesion type 1-8, train ones -1.
        image_size (int): Slice width and height in pixels. Defaults to 512.
        lesion_radius_mm (tuple[float]): Range of the long semi-axis of lesions and of tube radii (mm).
        noisy_prob (float): Probability that a lesion row is flagged ``Possibly_noisy``.
        noise_hu, noise_ref_mm, noise_blur_px, contrast_scale: see :func:`make_synthetic_deeplesion`.

    Returns:
        list[SyntheticSeries]
    """
    _check_appearance(noise_hu, noise_ref_mm, noise_blur_px, contrast_scale)
    rng = np.random.default_rng([seed, patient])
    noise = NoiseModel(noise_hu, noise_ref_mm, noise_blur_px)
    out = []
    for study in range(1, 3 if rng.random() < 0.4 else 2):
        out.append(_make_series(rng, patient, study, image_size, split != 1, lesion_radius_mm, noisy_prob, noise,
                                contrast_scale))
    return out


def _demographics(seed: int, patient: int) -> Tuple[str, str]:
    """``(sex, age)`` of a patient as ``DL_info.csv`` writes them: 'M'/'F' and 20-85 years, 5 % of ages blank."""
    age = '' if np.random.default_rng([seed, patient, 1]).random() < 0.05 else str(
        int(np.random.default_rng([seed, patient, 2]).integers(20, 86)))
    sex = 'MF'[int(np.random.default_rng([seed, patient, 3]).integers(0, 2))]
    return sex, age


def _write_slices(series: SyntheticSeries, folder: str) -> None:
    """The series' slices as ``<folder>/<index:03d>.png``, 16-bit with HU + 32768."""
    os.makedirs(folder, exist_ok=True)
    for index in range(series.first, series.last + 1):
        png = (series.render(index).astype(np.int32) + 32768).astype(np.uint16)
        if not cv2.imwrite(osp.join(folder, f'{index:03d}.png'), png):
            raise OSError(f'cannot write {osp.join(folder, f"{index:03d}.png")}')


def _lesion_row(les: Lesion, series: SyntheticSeries, name: str, image_size: int, window: Tuple[int, int],
                sex: str, age: str, split: int) -> list:
    """The ``DL_info.csv`` row of one lesion (1-based coordinates, the RECIST extent padded by ``BOX_PADDING``
    and clipped to the image)."""
    recist = les.recist()
    xs, ys = recist[0::2], recist[1::2]
    box = [
        max(min(xs) - BOX_PADDING, 0.0),
        max(min(ys) - BOX_PADDING, 0.0),
        min(max(xs) + BOX_PADDING, image_size - 1.0),
        min(max(ys) + BOX_PADDING, image_size - 1.0)
    ]
    span = max(series.last - series.first, 1)
    return [
        f'{name}_{les.key_slice:03d}.png', series.patient, series.study, series.series, les.key_slice,
        _fmt([v + 1 for v in recist]),
        _fmt([v + 1 for v in box]),
        _fmt([2 * les.a, 2 * les.b]),
        _fmt([les.cx / image_size, les.cy / image_size, (les.key_slice - series.first) / span]),
        les.lesion_type,
        int(les.noisy),
        _fmt([series.first, series.last]),
        _fmt([series.spacing, series.spacing, series.interval]),
        _fmt([image_size, image_size]),
        _fmt(window), sex, age, split
    ]


def _write_csv(csv_path: str, rows: List[list]) -> None:
    """``DL_info.csv`` with its header, written to a temporary name and renamed (whole or not at all)."""
    tmp = csv_path + '.tmp'
    with open(tmp, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(DL_INFO_COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, csv_path)


def make_synthetic_deeplesion(out_dir: str,
                              num_patients: int = 20,
                              seed: int = 0,
                              image_size: int = 512,
                              lesion_radius_mm: Tuple[float, float] = (4.0, 12.0),
                              noisy_prob: float = 0.08,
                              noise_hu: Union[float, Tuple[float, float]] = 8.0,
                              noise_ref_mm: Optional[float] = None,
                              noise_blur_px: float = 0.0,
                              contrast_scale: float = 1.0,
                              overwrite: bool = False) -> str:
    """Write a synthetic DeepLesion tree: ``DL_info.csv`` and ``Images_png/<series>/<slice:03d>.png``.

    All 18 CSV columns are written, with 1-based coordinates, RECIST marks, boxes padded by 5 px, slice intervals
    of 0.6-5 mm, a ~70/15/15 patient split, some ``Possibly_noisy`` rows (a val/test key slice always keeps one
    clean lesion; a train key slice may have only noisy ones) and some key slices at the ends of their series.
    PNGs are 16-bit with HU + 32768.

    Args:
        out_dir (str): Output folder (created).
        num_patients (int): Number of patients; each has 1-2 series with 1-2 key slices of 1-3 lesions and 2-4
            tube distractors. Defaults to 20.
        seed (int): Seed; the tree is a deterministic function of the arguments. Defaults to 0.
        image_size (int): Slice width and height in pixels (>= 64). The field of view stays 300-400 mm, so a
            smaller size means coarser pixels and smaller lesions in pixels. Defaults to 512.
        lesion_radius_mm (tuple[float]): Range of lesions' long semi-axes and tube radii (mm).
            Defaults to (4, 12).
        noisy_prob (float): Fraction of lesion rows flagged ``Possibly_noisy``. Defaults to 0.08.
        noise_hu (float | tuple[float]): Standard deviation (HU) of the Gaussian quantum noise added to every
            pixel, drawn independently for every slice (as CT noise is); a range ``(low, high)`` gives every series
            its own level, drawn log-uniformly (scans differ in dose and patient size). Defaults to 8.
        noise_ref_mm (float, optional): If given, ``noise_hu`` is the noise at this slice thickness and a series
            with slice interval ``t`` gets ``noise_hu * sqrt(noise_ref_mm / t)`` (thin slices are noisier).
            Defaults to None: ``noise_hu`` for every series.
        noise_blur_px (float): In-plane correlation of the noise, the sigma (px) of a Gaussian low-pass applied
            to white noise before rescaling it to ``noise_hu``: CT's grainy noise texture. Defaults to 0 (white).
        contrast_scale (float): Factor on the contrast of lesions and tubes (hyperdense 60-140 HU, hypodense
            50-100 HU at 1). Defaults to 1.
        overwrite (bool): Replace an existing ``DL_info.csv`` in ``out_dir``. Defaults to False.

    Returns:
        str: ``out_dir``.

    Example:
        >>> root = make_synthetic_deeplesion('/tmp/dl_demo', num_patients=4, image_size=128)  # doctest: +SKIP
        >>> from mmdet3dctx.datasets.dl_info import load_key_slices
        >>> len(load_key_slices(root + '/DL_info.csv')) > 0  # doctest: +SKIP
        True
    """
    if image_size < 64:
        raise ValueError(f'image_size must be >= 64, got {image_size}')
    if num_patients < 1:
        raise ValueError(f'num_patients must be >= 1, got {num_patients}')
    _check_appearance(noise_hu, noise_ref_mm, noise_blur_px, contrast_scale)
    csv_path = osp.join(out_dir, 'DL_info.csv')
    if osp.exists(csv_path) and not overwrite:
        raise FileExistsError(f'{csv_path} exists; pass overwrite=True (--force) to replace it')
    os.makedirs(osp.join(out_dir, 'Images_png'), exist_ok=True)
    splits = _assign_splits(num_patients, seed)
    rows = []
    for patient in range(1, num_patients + 1):
        split = splits[patient - 1]
        sex, age = _demographics(seed, patient)
        for series in synthesize_patient(patient, seed, split, image_size, lesion_radius_mm, noisy_prob, noise_hu,
                                         noise_ref_mm, noise_blur_px, contrast_scale):
            name = f'{patient:06d}_{series.study:02d}_{series.series:02d}'
            _write_slices(series, osp.join(out_dir, 'Images_png', name))
            window = DICOM_WINDOWS[(patient + series.study) % len(DICOM_WINDOWS)]
            rows += [_lesion_row(les, series, name, image_size, window, sex, age, split) for les in series.lesions]
    _write_csv(csv_path, rows)
    return out_dir


__all__ = [
    'make_synthetic_deeplesion', 'synthesize_patient', 'SyntheticSeries', 'Lesion', 'Tube', 'NoiseModel', 'ct_noise',
    'paint_ellipse'
]
