"""Prepare a labelled CT volume dataset for training and 3D evaluation: a cache of arrays and the index volumes.json.

Sources (``--format auto`` tells them apart): a Medical Segmentation Decathlon / nnU-Net folder (``dataset.json``,
``imagesTr/``, ``labelsTr/``); DICOM study folders, each with its CT series and a DICOM SEG (e.g. a corrected
``findings_seg.dcm`` of ``tools/infer.py``); MetaImage/NRRD/NIfTI volumes with a table of spheres (LUNA16's
``annotations.csv``: ``seriesuid, coordX, coordY, coordZ, diameter_mm``) or boxes (``case_id, x_min, y_min, z_min,
x_max, y_max, z_max``) in LPS mm. Unchanged cases of an earlier run are taken from the cache. docs/own_data.md
describes the formats, the index and the messages.

Examples::

    python tools/prepare_volumes.py data/Task03_Liver --out data/liver_prepared --lesion-labels 2
    python tools/prepare_volumes.py data/LUNA16 --out data/luna_prepared \\
        --annotations data/LUNA16/CSVFILES/annotations.csv --split-file luna_split.csv
    python tools/prepare_volumes.py data/corrected_studies --out data/studies_prepared --split 0.8 0.1 0.1 --seed 1
"""
import argparse
import sys

from mmdet3dctx.datasets.prepare_volumes import format_prepare_summary, prepare_volume_dataset
from mmdet3dctx.datasets.volume_sources import SOURCE_FORMATS, VolumeDatasetError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='prepare a labelled CT volume dataset (cache + volumes.json) for training and 3D evaluation',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('src', help='the source folder (read only)')
    parser.add_argument('--out', required=True, help='the prepared dataset folder (DST), not inside SRC')
    parser.add_argument('--format', default='auto', choices=('auto', ) + SOURCE_FORMATS,
                        help='source format (default: auto: dataset.json -> msd, a table -> boxes, DICOM with a '
                        'SEG -> dicom-seg)')
    parser.add_argument('--lesion-labels', nargs='+', type=int, metavar='N',
                        help='label values (msd), segment numbers (dicom-seg) or table labels (boxes) that are '
                        'lesions (default: the only foreground label; every segment; every row)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--split', nargs=3, type=float, metavar=('TRAIN', 'VAL', 'TEST'),
                       help='seeded patient-level split fractions (default: the dataset\'s own split, else '
                       '0.7 0.15 0.15)')
    group.add_argument('--split-file', help='CSV rows case_id,split or JSON {case_id: split}')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split and the negative slices (default: 0)')
    parser.add_argument('--negative-ratio', type=float, default=0.5,
                        help='lesion-free training slices per lesion-bearing slice (default: 0.5)')
    parser.add_argument('--annotations', help='the sphere/box table (default: SRC/annotations.csv, '
                        'SRC/CSVFILES/annotations.csv or the only SRC/*.csv)')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into --out even where its volumes.json comes from another source')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = prepare_volume_dataset(args.src, args.out, format=args.format, lesion_labels=args.lesion_labels,
                                         split=args.split, split_file=args.split_file, seed=args.seed,
                                         negative_ratio=args.negative_ratio, annotations=args.annotations,
                                         overwrite=args.overwrite, progress=not args.no_progress)
    except (VolumeDatasetError, ValueError, OSError) as e:
        sys.exit(f'error: {e}')
    print(format_prepare_summary(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
