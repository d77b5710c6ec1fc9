"""ReSTE binary convolution.

Estimator Meets Equilibrium Perspective: A Rectified Straight Through Estimator for Binary Neural
Networks Training (Wu et al., ICCV 2023, arXiv:2308.06689).
"""
import math
from typing import Dict

import torch
import torch.nn as nn
from torch import Tensor
from torch.autograd import Function

from mmext.registry import MODELS
from .compression_utils import CompressedLayerMixin

__all__ = ['ReSTESign', 'reste_sign', 'reste_grad', 'ReSTEConv2d']


def reste_grad(x: Tensor, o: float, t: float = 1.5, interval: float = 0.1) -> Tensor:
    """Closed-form derivative of the ReSTE estimator ``sign(x) * |x| ** (1 / o)``.

    The power function's derivative ``|x| ** ((1 - o) / o) / o`` is used for
    ``interval < |x| <= t``; inside ``|x| <= interval`` it is replaced by the secant slope
    ``interval ** (1 / o) / interval`` because the true derivative diverges at 0 for ``o > 1``;
    outside ``|x| > t`` the gradient is clipped to 0.
    """
    ax = x.abs()
    # clamp before pow so the unused branch never produces inf (AMP / fp16 safe)
    power = ax.clamp(min=interval).pow((1.0 - o) / o) / o
    secant = math.pow(interval, 1.0 / o) / interval
    grad = torch.where(ax <= interval, torch.full_like(x, secant), power)
    return torch.where(ax <= t, grad, torch.zeros_like(x))


class ReSTESign(Function):
    """Binarize with ``sign`` in the forward pass and the ReSTE estimator in the backward pass.

    Zero is mapped to +1 so that a binarized tensor takes exactly two values.
    """

    @staticmethod
    def forward(ctx, x: Tensor, o: float, t: float, interval: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.o, ctx.t, ctx.interval = o, t, interval
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, = ctx.saved_tensors
        return grad_out * reste_grad(x, ctx.o, ctx.t, ctx.interval), None, None, None


def reste_sign(x: Tensor, o: float = 1.0, t: float = 1.5, interval: float = 0.1) -> Tensor:
    """Functional form of :class:`ReSTESign`."""
    return ReSTESign.apply(x, float(o), float(t), float(interval))


@MODELS.register_module()
class ReSTEConv2d(CompressedLayerMixin, nn.Conv2d):
    """1-bit convolution trained with the Rectified Straight-Through Estimator (ReSTE).

    From "Estimator Meets Equilibrium Perspective: A Rectified Straight Through Estimator for
    Binary Neural Networks Training" (arXiv:2308.06689). Weights (and, by default, input
    activations) are binarized with ``sign``; the backward pass uses the derivative of the power
    function ``sign(x)|x|^(1/o)``, whose exponent ``o`` grows from 1 (plain STE) to ``o_end`` during
    training (:class:`mmext.ReSTEHook`) to trade gradient stability for a smaller estimating
    error. The binary weights are rescaled by the mean absolute weight, as in the official code
    (one scalar per layer), or per output channel.

    It takes the arguments of ``nn.Conv2d``, so ``conv_cfg=dict(type='mmext.ReSTEConv2d')`` works
    in any backbone that builds its convs with mmcv's ``build_conv_layer``.

    Args:
        *args: Positional arguments of ``nn.Conv2d``.
        binarize_act (bool): Binarize the input activations too (1W/1A); False gives 1W/32A.
            Defaults to True.
        t (float): Clipping threshold of the estimator for weights and activations; gradients
            are zero for ``|x| > t``. Defaults to 1.5 (official code).
        interval (float): Half-width of the interval around 0 where the secant slope replaces
            the diverging power-function derivative. Defaults to 0.1 (official code).
        scale (str): ``'layer'`` (one mean-|w| scalar, official code) or ``'channel'`` (one per
            output channel). Defaults to ``'layer'``.
        **kwargs: Keyword arguments of ``nn.Conv2d``.
    """

    def __init__(self,
                 *args,
                 binarize_act: bool = True,
                 t: float = 1.5,
                 interval: float = 0.1,
                 scale: str = 'layer',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if t <= 0:
            raise ValueError(f'"t" must be > 0, got {t}')
        if not 0 < interval < t:
            raise ValueError(f'"interval" must be in (0, t={t}), got {interval}')
        if scale not in ('layer', 'channel'):
            raise ValueError(f'"scale" must be "layer" or "channel", got {scale!r}')
        self.binarize_act = binarize_act
        self.t = t
        self.interval = interval
        self.scale = scale
        # The exponent is a buffer so that it is saved with checkpoints and a resumed run keeps
        # its place in the schedule; ReSTEHook writes it.
        self.register_buffer('o', torch.tensor(1.0))

    def _scale(self) -> Tensor:
        w = self.weight.abs()
        if self.scale == 'layer':
            return w.mean()
        return w.mean(dim=(1, 2, 3), keepdim=True)

    def transform_input(self, x: Tensor) -> Tensor:
        if not self.binarize_act:
            return x
        return reste_sign(x, float(self.o), self.t, self.interval)

    def compressed_weight(self) -> Tensor:
        # the scale is not detached: as in the official code it also receives gradients
        return reste_sign(self.weight, float(self.o), self.t, self.interval) * self._scale()

    def compression_info(self) -> Dict:
        return dict(method='ReSTE', weight_bits=1, act_bits=1 if self.binarize_act else 32,
                    binary=True)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', binarize_act={self.binarize_act}, t={self.t}, '
                f'scale={self.scale}')
