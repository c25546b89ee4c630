"""Registered models: 3D-context operators, backbones, necks, detectors, data preprocessors."""
from . import layers  # noqa: F401
