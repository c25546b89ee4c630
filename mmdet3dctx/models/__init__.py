"""Registered models: 3D-context operators, backbones, necks, detectors, RoI heads, data preprocessors."""
from . import layers  # noqa: F401
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .roi_heads import *  # noqa: F401,F403
