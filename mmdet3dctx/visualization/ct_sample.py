"""Draw one CT sample (a stack of slices around a key slice) with its boxes and masks."""
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: ground-truth boxes, as ``tools/test.py --show-dir`` draws them (RGB)
GT_BOX_COLOR = (0, 255, 0)
#: masks, blended over the key slice (RGB)
MASK_COLOR = (255, 200, 0)


def _panel_titles(num_slices: int, key_index: int, input_slice_interval: Optional[float]) -> list:
    titles = []
    for d in range(num_slices):
        offset = d - key_index
        if offset == 0:
            titles.append('key')
        elif input_slice_interval is not None and math.isfinite(input_slice_interval) and input_slice_interval > 0:
            titles.append(f'{offset * input_slice_interval:+.1f} mm')
        else:
            titles.append(f'{offset:+d}')
    return titles


def draw_ct_sample(volume: np.ndarray,
                   bboxes: Optional[np.ndarray] = None,
                   masks: Optional[np.ndarray] = None,
                   value_range: Optional[Tuple[float, float]] = None,
                   key_index: Optional[int] = None,
                   input_slice_interval: Optional[float] = None,
                   box_color: Sequence[int] = GT_BOX_COLOR,
                   mask_color: Sequence[int] = MASK_COLOR,
                   mask_alpha: float = 0.35,
                   gap: int = 4,
                   title_height: int = 14) -> np.ndarray:
    """Lay the slices of a sample side by side, the key slice among its neighbours, and draw its annotations.

    Every slice is shown in grey, ``value_range`` (the CT window as the pipeline mapped it) stretched to 0-255.
    The boxes are drawn on every slice (1 px wide, at the pixels ``round(x1), round(y1), round(x2), round(y2)``
    of each panel), the masks blended over the key slice only. A title strip above each panel says ``key`` or
    the slice's offset from it (in mm when ``input_slice_interval`` is given).

    Args:
        volume (np.ndarray): The slices, ``(D, H, W)``.
        bboxes (np.ndarray, optional): Boxes ``(K, 4)`` as ``x1, y1, x2, y2`` in pixels of a slice.
        masks (np.ndarray, optional): Masks ``(K, H, W)`` of the key slice (nonzero = inside).
        value_range (tuple[float, float], optional): The values shown as black and white. Defaults to the
            volume's minimum and maximum.
        key_index (int, optional): Index of the key slice. Defaults to the middle one, ``D // 2``.
        input_slice_interval (float, optional): mm between consecutive input slices, for the titles.
        box_color (Sequence[int]): RGB of the boxes. Defaults to green.
        mask_color (Sequence[int]): RGB of the masks. Defaults to amber.
        mask_alpha (float): Opacity of the masks. Defaults to 0.35.
        gap (int): Pixels between panels. Defaults to 4.
        title_height (int): Height of the title strip. Defaults to 14.

    Returns:
        np.ndarray: An RGB ``uint8`` image ``(title_height + H, D * W + (D - 1) * gap, 3)``; panel ``d`` starts at
        column ``d * (W + gap)``.

    Example:
        >>> vol = np.zeros((3, 32, 32), np.float32)
        >>> img = draw_ct_sample(vol, np.array([[4, 5, 20, 22]]), value_range=(0, 1))
        >>> img.shape, img[14 + 5, 36 + 10].tolist()  # panel 1 starts at column 36; the box's top edge
        ((46, 104, 3), [0, 255, 0])
    """
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise ValueError(f'volume must be (D, H, W), got shape {volume.shape}')
    num_slices, height, width = volume.shape
    key_index = num_slices // 2 if key_index is None else int(key_index)
    if not 0 <= key_index < num_slices:
        raise ValueError(f'key_index {key_index} outside the {num_slices} slices')
    if value_range is None:
        value_range = (float(volume.min()), float(volume.max()))
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    grey = np.clip((volume - lo) * scale, 0, 255).round().astype(np.uint8)
    bboxes = np.zeros((0, 4)) if bboxes is None else np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    if masks is not None:
        masks = np.asarray(masks).reshape(-1, height, width) != 0

    canvas = np.zeros((title_height + height, num_slices * width + (num_slices - 1) * gap, 3), np.uint8)
    for d, title in enumerate(_panel_titles(num_slices, key_index, input_slice_interval)):
        panel = np.ascontiguousarray(np.repeat(grey[d][..., None], 3, axis=2))
        if d == key_index and masks is not None and len(masks):
            inside = masks.any(axis=0)
            blend = (1 - mask_alpha) * panel[inside] + mask_alpha * np.asarray(mask_color, np.float64)
            panel[inside] = blend.round().astype(np.uint8)
        for x1, y1, x2, y2 in np.round(bboxes).astype(int):
            cv2.rectangle(panel, (int(x1), int(y1)), (int(x2), int(y2)), tuple(int(c) for c in box_color), 1)
        x0 = d * (width + gap)
        canvas[title_height:, x0:x0 + width] = panel
        if title_height >= 8:  # drawn on the strip alone, so no glyph reaches into the slices
            strip = np.ascontiguousarray(canvas[:title_height, x0:x0 + width])
            cv2.putText(strip, title, (2, title_height - 4), cv2.FONT_HERSHEY_SIMPLEX, (title_height - 4) / 30.0,
                        (255, 255, 255) if d != key_index else (255, 255, 0), 1, cv2.LINE_AA)
            canvas[:title_height, x0:x0 + width] = strip
    return canvas
