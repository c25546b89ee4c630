"""Random reversal of the slice order of a ``(H, W, D)`` image."""
import random

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomDepthFlip(BaseTransform):
    """Reverse the order of the slices (the channel axis of ``(H, W, D)``) with probability ``prob``.

    The key slice stays in the middle; boxes and masks, which live on the key slice, are unchanged.

    Required Keys:

    - img

    Modified Keys:

    - img

    Added Keys:

    - depth_flip (bool)

    Args:
        prob (float): Probability of reversing. Defaults to 0.5.

    Example:
        >>> import numpy as np
        >>> from mmdet3dctx.datasets.transforms import RandomDepthFlip
        >>> img = np.arange(3, dtype=np.float32).reshape(1, 1, 3)
        >>> RandomDepthFlip(prob=1.0)(dict(img=img))['img'].ravel().tolist()
        [2.0, 1.0, 0.0]
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = float(prob)

    @cache_randomness
    def _do_flip(self) -> bool:
        return random.random() < self.prob

    def transform(self, results: dict) -> dict:
        """Reverse ``img`` along its last axis when sampled.

        Args:
            results (dict): Result dict with ``img`` ``(H, W, D)``.

        Returns:
            dict: The updated result dict.
        """
        flip = self._do_flip()
        if flip:
            if results['img'].ndim != 3:
                raise ValueError(f'RandomDepthFlip needs an (H, W, D) image, got shape {results["img"].shape}')
            results['img'] = np.ascontiguousarray(results['img'][..., ::-1])
        results['depth_flip'] = flip
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
