"""DICOM results of a study read from DICOM (highdicom): a TID 1500 measurement report (SR) and a segmentation
(SEG) referencing the source images."""
from typing import List, Sequence

import numpy as np

from mmdet3dctx.io import CTVolume
from .lesion_linking import LesionFinding

MANUFACTURER = 'mmdet3dctx'


def _version() -> str:
    from mmdet3dctx.version import __version__
    return str(__version__)


def to_source_pixels(points: np.ndarray, volume: CTVolume) -> np.ndarray:
    """Continuous ``(x, y)`` pixel coordinates ``(N, 2)`` of the volume's layout to those of the source images
    (undoing the flips and transpose the reader applied; ``(0, 0)`` is the top-left corner of the top-left
    pixel in both, as in DICOM's SCOORD)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2).copy()
    t = volume.metadata.get('pixel_transform') or {}
    h, w = volume.hu.shape[1:]
    if t.get('flip_cols'):
        pts[:, 0] = w - pts[:, 0]
    if t.get('flip_rows'):
        pts[:, 1] = h - pts[:, 1]
    if t.get('transpose'):
        pts = pts[:, ::-1]
    return pts


def to_source_mask(mask: np.ndarray, volume: CTVolume) -> np.ndarray:
    """An ``(H, W)`` mask of the volume's layout in the source images' pixel layout."""
    t = volume.metadata.get('pixel_transform') or {}
    m = np.asarray(mask)
    if t.get('flip_rows'):
        m = m[::-1]
    if t.get('flip_cols'):
        m = m[:, ::-1]
    if t.get('transpose'):
        m = m.T
    return np.ascontiguousarray(m)


def write_sr(path: str, findings: Sequence[LesionFinding], records: Sequence[dict], volume: CTVolume,
             detector_name: str) -> bool:
    """A Comprehensive 3D SR with a TID 1500 measurement report: one planar ROI measurement group per finding
    (tracking identifier ``Finding <id>``, the key-slice box as a closed polyline on its source image, long and
    short axis in mm). TID 1500 needs at least one measurement group: without findings nothing is written
    (returns False)."""
    if not findings:
        return False
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid
    refs = volume.slice_refs
    headers = {getattr(ds, 'filename', None): ds for ds in volume.headers}
    groups = []
    for f, rec in zip(findings, records):
        ref = refs[f.key_slice]
        src = headers[ref['file']]
        x1, y1, x2, y2 = (float(v) for v in f.box)
        poly = to_source_pixels(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]), volume)
        source_image = hd.sr.SourceImageForRegion(
            referenced_sop_class_uid=src.SOPClassUID, referenced_sop_instance_uid=ref['sop_instance_uid'],
            referenced_frame_numbers=[ref['frame']] if ref['frame'] is not None else None)
        region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                                   graphic_data=poly.astype(np.float32), source_image=source_image)
        measurements = [
            hd.sr.Measurement(name=codes.SCT.LongAxis, value=rec['long_diameter_mm'], unit=codes.UCUM.Millimeter),
            hd.sr.Measurement(name=codes.SCT.ShortAxis, value=rec['short_diameter_mm'], unit=codes.UCUM.Millimeter),
        ]
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f'Finding {rec["id"]}'),
            referenced_region=region, finding_type=codes.SCT.Lesion, measurements=measurements,
            algorithm_id=hd.sr.AlgorithmIdentification(name=detector_name, version=_version())))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(uid=generate_uid(),
                                                                                  name=detector_name))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=hd.sr.CodedConcept('25045-6', 'LN', 'CT unspecified body region'),
        imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(evidence=list(volume.headers), content=report[0],
                                 series_instance_uid=generate_uid(), series_number=9901,
                                 sop_instance_uid=generate_uid(), instance_number=1, manufacturer=MANUFACTURER,
                                 series_description='mmdet3dctx findings')
    sr.save_as(path, enforce_file_format=True)
    return True


def write_seg(path: str, findings: Sequence[LesionFinding], volume: CTVolume, detector_name: str) -> bool:
    """A binary DICOM SEG of the findings' masks: segment ``<id>`` = finding ``<id>`` (where findings overlap
    the better one wins); only frames with a mask are stored, and only the source images with a mask are
    referenced (all frames of a multi-frame source). Returns False (nothing written) without masks."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid
    h, w = volume.hu.shape[1:]
    planes = {}  # slice -> (H, W) finding ids, only the slices with a mask
    for k in range(len(findings) - 1, -1, -1):  # the better finding painted last wins
        f = findings[k]
        for t, z in enumerate(f.slices if f.masks is not None else []):
            m = f.masks[t]
            if m is not None and np.any(m):
                planes.setdefault(z, np.zeros((h, w), np.uint16))[np.asarray(m, bool)] = k + 1
    present = sorted({int(v) for plane in planes.values() for v in np.flatnonzero(np.bincount(plane.ravel())) if v})
    if not present:
        return False
    refs = volume.slice_refs
    headers = {getattr(ds, 'filename', None): ds for ds in volume.headers}
    if any(r['frame'] is not None for r in refs):
        files = {r['file'] for r in refs}
        if len(files) != 1:
            raise ValueError(f'a series of several multi-frame objects ({sorted(files)}) cannot be referenced by one '
                             'SEG')
        source = [headers[refs[0]['file']]]
        arr = np.zeros((int(source[0].NumberOfFrames), ) + to_source_mask(np.zeros((h, w)), volume).shape, np.uint16)
        for z, plane in planes.items():
            arr[refs[z]['frame'] - 1] = to_source_mask(plane, volume)
    else:  # the source images with a mask only: the others would be empty frames
        zs = sorted(planes)
        source = [headers[refs[z]['file']] for z in zs]
        arr = np.stack([to_source_mask(planes[z], volume) for z in zs])
    # segments numbered 1..S consecutively as DICOM wants; finding ids in the labels and descriptions
    lut = np.zeros(len(findings) + 1, np.uint16)
    descriptions = []
    algo = hd.AlgorithmIdentificationSequence(name=detector_name, version=_version(),
                                              family=codes.DCM.ArtificialIntelligence)
    for s, fid in enumerate(present, start=1):
        lut[fid] = s
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=s, segment_label=f'Finding {fid}',
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algo, tracking_id=f'Finding {fid}', tracking_uid=generate_uid()))
    seg = hd.seg.Segmentation(
        source_images=source, pixel_array=lut[arr], segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=9902,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer=MANUFACTURER,
        manufacturer_model_name=detector_name[:64], software_versions=_version(), device_serial_number='0',
        series_description='mmdet3dctx findings')
    seg.save_as(path, enforce_file_format=True)
    return True


def segment_finding_ids(seg) -> List[int]:
    """The finding ids of a SEG written by :func:`write_seg` (its segment labels ``Finding <id>``)."""
    return [int(str(s.SegmentLabel).split()[-1]) for s in seg.SegmentSequence]
