"""Reading a config: the file with its bases, ``--cfg-options`` merged, config references resolved.

``read_config`` is what every tool, benchmark and the inference API use to read a config file; ``load_config``
(the training and test tools) adds the run's work dir and the CPU process-group backend.
"""
import copy
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config

from mmdet3dctx.utils import resolve_config_refs


def read_config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    """Read ``config``, merge ``cfg_options`` and resolve the config references.

    A ``'${name}'`` value stands for the top-level variable ``name`` of the final config
    (:func:`~mmdet3dctx.utils.resolve_config_refs`), so ``cfg_options={'num_slices': 3}`` reaches the backbone,
    the 3D->2D reduction and both loaders of a DeepLesion config, and ``{'data_root': ...}`` every dataset.

    Args:
        config (str | Config): config file, or a config already read (resolved as it is; not changed).
        cfg_options (dict, optional): overrides, as ``--cfg-options`` gives them.

    Returns:
        Config: the resolved config.

    Example:
        >>> from mmdet3dctx.utils import get_config_path
        >>> cfg = read_config(get_config_path('deeplesion/a3d_7slice.py'), {'num_slices': 3})
        >>> cfg.model.backbone.num_slices, cfg.model.neck.reduction.num_slices, cfg.test_pipeline[0].num_slices
        (3, 3, 3)
    """
    import mmdet3dctx  # noqa: F401  (registers the plugins)
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return resolve_config_refs(cfg)


def load_config(config: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None) -> Config:
    """:func:`read_config` made ready for MMEngine's Runner: the work dir set, gloo without CUDA.

    Args:
        config (str): config file.
        cfg_options (dict, optional): overrides, as ``--cfg-options`` gives them.
        work_dir (str, optional): default: the config's ``work_dir``, else ``work_dirs/<config name>``.

    Returns:
        Config: the config (gloo as the distributed backend without CUDA).
    """
    cfg = read_config(config, cfg_options)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg
