"""mmdet3dctx: universal lesion detection in CT with 3D context, as MMDetection 3.x plugins.

``import mmdet3dctx`` registers every plugin (models, datasets, transforms, metrics) in MMDetection's
registries. ``mmdet3dctx.ops`` is pure PyTorch and stays importable where MMDetection is not installed.
"""
import importlib.util

from .version import __version__

HAS_MMDET = importlib.util.find_spec('mmdet') is not None

if HAS_MMDET:
    from . import datasets, evaluation, models  # noqa: F401  (registers the plugins)

__all__ = ['__version__', 'HAS_MMDET']
