"""Synthetic domain shift (contrast, rotation, noise) for test-time adaptation experiments."""
import zlib
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS

__all__ = ['DomainShift']


@TRANSFORMS.register_module()
class DomainShift(BaseTransform):
    """Shift an image away from the training domain: contrast change, rotation, Gaussian noise.

    Used to build a shifted copy of a test set for test-time adaptation methods such as AdaNPC
    ("AdaNPC: Exploring Non-Parametric Classifier for Test-Time Adaptation", arXiv 2304.12566).
    The three corruptions are applied in that order with *fixed* strengths, so every image of the
    shifted set sees the same domain (unlike a random augmentation). With ``seed`` set, the noise
    of an image is drawn from a generator seeded by the seed and the image content, so the
    shifted set is identical across runs and dataloader worker counts.

    Required keys: ``img``. Modified keys: ``img`` (same shape and dtype, values clipped to the
    dtype's range for uint8 images).

    Args:
        rotate (float): Rotation angle in degrees (counter-clockwise), border filled with 0.
            Defaults to 0.
        noise_std (float): Standard deviation of additive Gaussian noise, in pixel units (0-255
            scale for uint8 images). Defaults to 0.
        contrast (float): Contrast factor around the image mean; < 1 lowers contrast.
            Defaults to 1.
        seed (int, optional): Makes the noise deterministic per image. Defaults to None.
    """

    def __init__(self,
                 rotate: float = 0.,
                 noise_std: float = 0.,
                 contrast: float = 1.,
                 seed: Optional[int] = None) -> None:
        super().__init__()
        if noise_std < 0:
            raise ValueError(f'"noise_std" must be >= 0, got {noise_std}')
        if contrast < 0:
            raise ValueError(f'"contrast" must be >= 0, got {contrast}')
        self.rotate = rotate
        self.noise_std = noise_std
        self.contrast = contrast
        self.seed = seed

    def transform(self, results: dict) -> dict:
        img = results['img']
        dtype = img.dtype
        out = img.astype(np.float32)
        if self.contrast != 1.:
            out = (out - out.mean()) * self.contrast + out.mean()
        if self.rotate != 0.:
            out = mmcv.imrotate(out, self.rotate, border_value=0)
        if self.noise_std > 0:
            if self.seed is None:
                rng = np.random.default_rng()
            else:
                rng = np.random.default_rng([self.seed, zlib.crc32(img.tobytes())])
            out = out + rng.normal(0., self.noise_std, size=out.shape).astype(np.float32)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out = np.clip(np.round(out), info.min, info.max)
        results['img'] = out.astype(dtype)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(rotate={self.rotate}, noise_std={self.noise_std}, '
                f'contrast={self.contrast}, seed={self.seed})')
