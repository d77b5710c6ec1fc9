"""Run colour transforms (RandAugment's colour operations) on single-channel images."""
from typing import Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from mmext.registry import TRANSFORMS

__all__ = ['GreyAsColor']


@TRANSFORMS.register_module()
class GreyAsColor(BaseTransform):
    """Apply ``transforms`` to a grey image seen as a 3-channel one, then return to grey.

    mmcv's colour operations (``adjust_color``, ``adjust_contrast``, ``imequalize``,
    ``imautocontrast``, used by RandAugment's ``ColorTransform`` / ``Contrast`` / ``Equalize`` /
    ``AutoContrast``) expect 3-channel images. This wrapper stacks a ``(H, W)`` or ``(H, W, 1)``
    ``img`` into ``(H, W, 3)``, runs ``transforms`` and keeps the first channel in the input's
    layout. On a replicated grey image every channel-wise operation gives the same result in all
    channels (the BGR -> grey conversion of a grey pixel is the pixel itself), so the result is
    the grey version of the 3-channel augmentation. Used for the strong (RandAugment) view of
    Fashion-MNIST in the FixMatch / Dash configs (configs/dash, arXiv 2109.00650). A 3-channel
    image is passed to ``transforms`` unchanged.

    Args:
        transforms (list[dict]): Transforms to run on the 3-channel view.
    """

    def __init__(self, transforms: List[Dict]) -> None:
        self.transforms = Compose(transforms)

    def transform(self, results: Dict) -> Optional[Dict]:
        img = results['img']
        grey_2d = img.ndim == 2
        if not grey_2d and img.shape[-1] != 1:
            return self.transforms(results)
        results['img'] = np.repeat(img.reshape(img.shape[:2] + (1, )), 3, axis=-1)
        results = self.transforms(results)
        if results is None:
            return None
        out = results['img'][..., :1]
        results['img'] = np.ascontiguousarray(out[..., 0] if grey_2d else out)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(transforms={self.transforms})'
