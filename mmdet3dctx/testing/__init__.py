"""Synthetic data for tests, demos and benchmarks: a CT-like DeepLesion tree and a COCO-format shapes set.

Both generators are pure functions of their arguments (seeded NumPy), need neither MMDetection nor a download, and
write the layouts the real data have, so every tool and config runs on them unchanged:

* :func:`make_synthetic_deeplesion` (``synthetic_deeplesion``): ``DL_info.csv`` + ``Images_png/``, lesions that
  only the neighbouring slices tell apart from vessel-like distractors;
* :func:`make_synthetic_coco` (``synthetic_coco``): COCO 2017's layout and 80 categories, for the pseudo-3D
  pretraining demo.
"""
from .synthetic_coco import COCO_CATEGORIES, make_synthetic_coco
from .synthetic_deeplesion import make_synthetic_deeplesion, synthesize_patient

__all__ = ['make_synthetic_deeplesion', 'synthesize_patient', 'make_synthetic_coco', 'COCO_CATEGORIES']
