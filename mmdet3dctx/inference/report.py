"""A self-contained HTML report of one study's findings (thumbnails embedded as base64 PNG)."""
import base64
import html
from typing import Sequence, Tuple

import cv2
import numpy as np

from mmdet3dctx.io import CTVolume
from .lesion_linking import LesionFinding

#: thumbnails are scaled to this many pixels on their longer side
THUMB_SIZE = 256


def render_overlay(volume: CTVolume, finding: LesionFinding, window: Tuple[float, float] = (-160, 240),
                   label: str = '', size: int = 0) -> np.ndarray:
    """The finding's key slice in a CT window (default soft tissue, W 400 / L 40) as BGR uint8, with its mask
    outlined (green) where it has one, its box (red), its label and score.

    Args:
        size (int): scale the image to this many pixels on its longer side in mm (the pixel aspect of
            anisotropic pixels kept); 0 keeps the ``(H, W)`` pixels.
    """
    hu = volume.hu[finding.key_slice]
    h, w = hu.shape
    lo, hi = window
    grey = (np.clip((hu - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    mask = None
    if finding.masks is not None:
        mask = finding.masks[finding.slices.index(finding.key_slice)]
    fx = fy = 1.0
    if size:
        wmm, hmm = w * volume.spacing[2], h * volume.spacing[1]
        out_w, out_h = max(1, round(size * wmm / max(wmm, hmm))), max(1, round(size * hmm / max(wmm, hmm)))
        fx, fy = out_w / w, out_h / h
        grey = cv2.resize(grey, (out_w, out_h), interpolation=cv2.INTER_AREA if fx < 1 else cv2.INTER_LINEAR)
        if mask is not None:
            mask = cv2.resize(np.asarray(mask, np.uint8), (out_w, out_h), interpolation=cv2.INTER_NEAREST)
    img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    if mask is not None and np.any(mask):
        contours, _ = cv2.findContours(np.asarray(mask, np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(img, contours, -1, (0, 255, 0), 1)
    x1, y1, x2, y2 = finding.box
    p1, p2 = (int(round(x1 * fx)), int(round(y1 * fy))), (int(round(x2 * fx)), int(round(y2 * fy)))
    cv2.rectangle(img, p1, p2, (0, 0, 255), 1)
    cv2.putText(img, f'{label}{finding.score:.2f}', (p1[0], max(p1[1] - 3, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (0, 255, 255), 1, cv2.LINE_AA)
    return img


def _png_base64(img: np.ndarray) -> str:
    ok, buf = cv2.imencode('.png', img)
    if not ok:
        raise RuntimeError('cannot encode a thumbnail as PNG')
    return base64.b64encode(buf.tobytes()).decode('ascii')


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }
.finding { display: inline-block; vertical-align: top; margin: 0 1em 1em 0; width: 270px; }
.finding img { border: 1px solid #888; }
.note { color: #666; font-size: 0.85em; }
"""


def write_html_report(path: str, findings: Sequence[LesionFinding], records: Sequence[dict], study: dict,
                      volume: CTVolume, window: Tuple[float, float], detector_name: str) -> None:
    """Write ``report.html``: the study's metadata, a findings table and, per finding, its key slice with the
    box/mask overlay, measurements and position in LPS mm. One file, no external resources."""
    e = html.escape
    rows = ''.join(f'<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>' for k, v in (
        ('input', study.get('input')), ('patient ID', study.get('patient_id')), ('study date', study.get('study_date')),
        ('study UID', study.get('study_uid')), ('series UID', study.get('series_uid')),
        ('series', study.get('series_description')), ('shape (Z, H, W)', study.get('shape')),
        ('spacing (z, y, x) mm', study.get('spacing_mm')), ('runs of contiguous slices', study.get('runs')),
        ('detector', detector_name)) if v not in (None, ''))
    table = ''.join(
        f'<tr><td>{d["id"]}</td><td>{d["score"]:.3f}</td><td>{d["slice_range"][0]}&ndash;{d["slice_range"][1]} '
        f'(key {d["key_slice"]})</td><td>{d["long_diameter_mm"]:.1f} &times; {d["short_diameter_mm"]:.1f}</td>'
        f'<td>{d["extent_mm"]:.1f}</td><td>{", ".join(f"{v:.1f}" for v in d["centre_lps_mm"])}</td></tr>'
        for d in records)
    cards = []
    for f, d in zip(findings, records):
        png = _png_base64(render_overlay(volume, f, window, label=f'#{d["id"]} ', size=THUMB_SIZE))
        cards.append(
            f'<div class="finding"><img alt="finding {d["id"]}, slice {d["key_slice"]}" '
            f'src="data:image/png;base64,{png}"><br><b>Finding {d["id"]}</b> &mdash; score {d["score"]:.3f}<br>'
            f'slice {d["key_slice"]} at {d["key_slice_position_mm"]:.1f} mm (slices {d["slice_range"][0]}&ndash;'
            f'{d["slice_range"][1]})<br>long &times; short axis {d["long_diameter_mm"]:.1f} &times; '
            f'{d["short_diameter_mm"]:.1f} mm ({e(d["diameters_from"])}), extent {d["extent_mm"]:.1f} mm<br>'
            f'centre (LPS) {", ".join(f"{v:.1f}" for v in d["centre_lps_mm"])} mm'
            + (f'<br><span class="note">SOP {e(d["sop_instance_uid"])}</span>' if d.get('sop_instance_uid') else '')
            + '</div>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Findings: {e(str(study.get('series_description') or
                                                                    study.get('input') or 'CT study'))}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Lesion findings</h1>
<table>{rows}</table>
<h2>{len(records)} finding(s)</h2>
<table><tr><th>#</th><th>score</th><th>slices</th><th>long &times; short (mm)</th><th>extent (mm)</th>
<th>centre LPS (mm)</th></tr>{table}</table>
{''.join(cards)}
<p class="note">Automatic detections for research use, not a diagnosis. Boxes and masks are drawn on the key slice in
the soft-tissue window W {window[1] - window[0]:g} / L {(window[0] + window[1]) / 2:g}; images shown with the
patient's left on the right of the image and anterior at the top. Coordinates: DICOM patient space (LPS), mm.</p>
</body></html>
"""
    with open(path, 'w', encoding='utf-8') as fh:
        fh.write(page)
