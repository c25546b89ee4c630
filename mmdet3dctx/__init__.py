"""mmdet3dctx: universal lesion detection in CT with 3D context, as MMDetection 3.x plugins.

``import mmdet3dctx`` registers every plugin (models, datasets, transforms, metrics) in MMDetection's
registries. ``mmdet3dctx.ops`` is pure PyTorch and stays importable where MMDetection is not installed.
``HAS_MMDET`` says whether MMDetection is installed: subpackages with an MMDetection-only part read it
(``from .. import HAS_MMDET``) rather than probing the import themselves.
"""
from .utils.config_path import get_config_path, get_tool_path
from .version import __version__

try:
    import mmdet  # noqa: F401
    HAS_MMDET = True
except ModuleNotFoundError as e:  # only a missing MMDetection is tolerated, not a broken install
    if e.name != 'mmdet':
        raise
    HAS_MMDET = False

if HAS_MMDET:
    from . import datasets, engine, evaluation, inference, models, pretraining  # noqa: F401  (registers the plugins)

__all__ = ['__version__', 'HAS_MMDET', 'get_config_path', 'get_tool_path']
