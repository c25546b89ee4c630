"""Where the shipped configs and tools are: inside the installed package, or in the source checkout."""
import os.path as osp

_PKG = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _candidates(kind: str) -> list:
    # an installed package: mmdet3dctx/.mim/<kind> (copied there when the wheel is built, see setup.py);
    # a source checkout or an editable install: <repository>/<kind>
    return [osp.join(_PKG, '.mim', kind), osp.join(osp.dirname(_PKG), kind)]


def _find(kind: str, name: str) -> str:
    if osp.isabs(name) or name.startswith('..'):
        raise ValueError(f'{name!r}: give a path relative to {kind}/, e.g. '
                         f"{'demo/a3d_7slice_synthetic.py' if kind == 'configs' else 'train.py'}")
    tried = []
    for root in _candidates(kind):
        path = osp.join(root, name)
        if osp.isfile(path):
            return path
        tried.append(path)
    raise FileNotFoundError(f'{name}: not found in the shipped {kind} (looked for ' + ', '.join(tried) + ')')


def get_config_path(name: str) -> str:
    """Absolute path of a config shipped with mmdet3dctx.

    Args:
        name (str): the config's path relative to ``configs/``, e.g. ``'deeplesion/a3d_7slice.py'``.

    Returns:
        str: ``<site-packages>/mmdet3dctx/.mim/configs/<name>`` when installed from a wheel or an sdist, else
        ``<repository>/configs/<name>`` (a source checkout or an editable install).

    Example:
        >>> from mmdet3dctx import get_config_path
        >>> from mmdet3dctx.apis import read_config
        >>> cfg = read_config(get_config_path('demo/a3d_7slice_synthetic.py'))
        >>> cfg.model.backbone.num_slices
        7
    """
    return _find('configs', name)


def get_tool_path(name: str) -> str:
    """Absolute path of a tool shipped with mmdet3dctx (``name`` relative to ``tools/``, e.g. ``'train.py'``)."""
    return _find('tools', name)
