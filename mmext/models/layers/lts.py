"""LSQ fake-quantized conv / linear layers, the layers that :class:`mmext.LTSHook` freezes.

Quantizer: Learned Step Size Quantization (Esser et al., ICLR 2020, arXiv:1902.08153).
Freezing: Exploiting the Partly Scratch-off Lottery Ticket for Quantization-Aware Training
(Zhong et al., arXiv:2211.08544).
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmext.registry import MODELS
from .compression_utils import CompressedLayerMixin, check_bits

__all__ = ['round_ste', 'sign_ste', 'grad_scale', 'lsq_quantize', 'lsq_range', 'LSQConv2d',
           'LSQLinear']


def round_ste(x: Tensor) -> Tensor:
    """``round`` in the forward pass, identity in the backward pass."""
    return x + (x.round() - x).detach()


def sign_ste(x: Tensor) -> Tensor:
    """``+1 / -1`` (zero to +1) in the forward pass, identity in the backward pass."""
    return x + (torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x)) - x).detach()


def grad_scale(x: Tensor, scale: float) -> Tensor:
    """Value of ``x`` in the forward pass, gradient multiplied by ``scale`` in the backward."""
    return (x - x * scale).detach() + x * scale


def lsq_range(bits: int, signed: bool) -> Tuple[int, int]:
    """Integer range ``(qmin, qmax)`` of a ``bits``-bit LSQ quantizer.

    A signed 1-bit quantizer has the two levels ``{-1, +1}`` (binary), not ``{-1, 0}``.
    """
    if not signed:
        return 0, 2**bits - 1
    if bits == 1:
        return -1, 1
    return -2**(bits - 1), 2**(bits - 1) - 1


def lsq_quantize(x: Tensor, step: Tensor, bits: int, signed: bool, g: float) -> Tensor:
    """LSQ fake quantization ``round(clamp(x / s, qmin, qmax)) * s``.

    Gradients (LSQ paper, Eq. 3): ``d/dx = 1`` inside the clipping range and 0 outside;
    ``d/ds = round(x/s) - x/s`` inside, ``qmin`` / ``qmax`` outside, multiplied by the gradient
    scale ``g = 1 / sqrt(numel * qmax)``.
    """
    qmin, qmax = lsq_range(bits, signed)
    s = grad_scale(step, g)
    v = torch.clamp(x / s, qmin, qmax)
    q = sign_ste(v) if (signed and bits == 1) else round_ste(v)
    return q * s


class _LSQMixin(CompressedLayerMixin):
    """LSQ weight / activation fake quantization shared by :class:`LSQConv2d` and
    :class:`LSQLinear`; see :class:`LSQConv2d` for the arguments.

    Mixed in before ``nn.Conv2d`` / ``nn.Linear``: the host layer is built from ``*args`` /
    ``**kwargs`` first, so the quantizer state can be sized from its weight.
    """

    def __init__(self, *args, weight_bits: int = 2, act_bits: Optional[int] = 2,
                 act_signed: Optional[bool] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.weight_bits = check_bits(weight_bits, 'weight_bits')
        self.act_bits = None if act_bits is None else check_bits(act_bits, 'act_bits')
        if act_signed is not None and not isinstance(act_signed, bool):
            raise ValueError(f'"act_signed" must be None, True or False, got {act_signed!r}')
        self.weight_step = nn.Parameter(torch.tensor(1.0))
        self.act_step = nn.Parameter(torch.tensor(1.0))
        # -1: decide from the first batch (signed when it holds negative values)
        self.register_buffer('act_signed', torch.tensor(-1 if act_signed is None else
                                                        int(act_signed)))
        # steps are initialised from the first training batch (LSQ: 2 <|x|> / sqrt(qmax)); the
        # flag is a buffer so that a loaded checkpoint is not re-initialised
        self.register_buffer('lsq_initialized', torch.tensor(False))
        # weights frozen by LTSHook: they keep their value and get no gradient
        self.register_buffer('frozen', torch.zeros_like(self.weight, dtype=torch.bool))

    @property
    def weight_range(self) -> Tuple[int, int]:
        return lsq_range(self.weight_bits, True)

    @torch.no_grad()
    def _initialize(self, x: Tensor) -> None:
        if int(self.act_signed) < 0:
            self.act_signed.fill_(int(bool((x < 0).any())))
        qw = self.weight_range[1]
        self.weight_step.fill_(
            float(2 * self.weight.abs().mean() / math.sqrt(qw)) + 1e-8)
        if self.act_bits is not None:
            qa = lsq_range(self.act_bits, bool(self.act_signed))[1]
            self.act_step.fill_(float(2 * x.abs().mean() / math.sqrt(qa)) + 1e-8)
        self.lsq_initialized.fill_(True)

    def transform_input(self, x: Tensor) -> Tensor:
        if not bool(self.lsq_initialized):
            self._initialize(x)
        if self.act_bits is None:
            return x
        signed = bool(self.act_signed > 0)
        qmax = lsq_range(self.act_bits, signed)[1]
        g = 1.0 / math.sqrt(max(x[0].numel(), 1) * qmax)
        return lsq_quantize(x, self.act_step.abs() + 1e-8, self.act_bits, signed, g)

    def latent_weight(self) -> Tensor:
        """Full-precision weight with frozen entries detached (no gradient, no update)."""
        return torch.where(self.frozen, self.weight.detach(), self.weight)

    def compressed_weight(self) -> Tensor:
        qmax = self.weight_range[1]
        g = 1.0 / math.sqrt(self.weight.numel() * qmax)
        return lsq_quantize(self.latent_weight(), self.weight_step.abs() + 1e-8,
                            self.weight_bits, True, g)

    def compression_info(self) -> Dict:
        qmin, qmax = self.weight_range
        return dict(method='LSQ', weight_bits=self.weight_bits,
                    act_bits=32 if self.act_bits is None else self.act_bits,
                    step=float(self.weight_step.detach().abs() + 1e-8), qmin=qmin, qmax=qmax,
                    act_step=None if self.act_bits is None else
                    float(self.act_step.detach().abs() + 1e-8),
                    frozen=float(self.frozen.float().mean()))


@MODELS.register_module()
class LSQConv2d(_LSQMixin, nn.Conv2d):
    """Conv2d with LSQ fake-quantized weights and input activations.

    The quantizer is Learned Step Size Quantization ("Learned Step Size Quantization",
    arXiv:1902.08153): ``round(clamp(x / s, qmin, qmax)) * s`` with a learnable step ``s`` per
    tensor, initialised from the first training batch and trained with the LSQ gradient scale.
    Weights are signed; activations are signed or unsigned (after ReLU). This is the layer whose
    weights :class:`mmext.LTSHook` freezes ("Exploiting the Partly Scratch-off Lottery Ticket for
    Quantization-Aware Training", arXiv:2211.08544).

    Args:
        *args: Positional arguments of ``nn.Conv2d``.
        weight_bits (int): Weight bit-width in [1, 8]. Defaults to 2.
        act_bits (int, optional): Activation bit-width in [1, 8]; None keeps full-precision
            inputs. Defaults to 2.
        act_signed (bool, optional): Whether activations may be negative; None decides from
            the first batch. Defaults to None.
        **kwargs: Keyword arguments of ``nn.Conv2d``.
    """


@MODELS.register_module()
class LSQLinear(_LSQMixin, nn.Linear):
    """Linear layer with LSQ fake-quantized weights and input activations.

    Same quantizer as :class:`LSQConv2d` ("Learned Step Size Quantization", arXiv:1902.08153),
    frozen by :class:`mmext.LTSHook` (arXiv:2211.08544).

    Args:
        *args: Positional arguments of ``nn.Linear``.
        weight_bits (int): Weight bit-width in [1, 8]. Defaults to 2.
        act_bits (int, optional): Activation bit-width in [1, 8], or None for full-precision
            inputs. Defaults to 2.
        act_signed (bool, optional): Whether the inputs may be negative, or None to decide
            from the first batch. Defaults to None.
        **kwargs: Keyword arguments of ``nn.Linear``.
    """
