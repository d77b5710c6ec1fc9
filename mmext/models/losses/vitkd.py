"""ViTKD (Yang et al., "ViTKD: Practical Guidelines for ViT feature knowledge distillation",
arXiv 2209.02432; official code: yzd-v/cls_KD)."""
import math
from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS
from .mgd import build_generation_block

__all__ = ['ViTKDLoss']


@MODELS.register_module()
class ViTKDLoss(nn.Module):
    """ViTKD feature distillation loss for vision transformers.

    From "ViTKD: Practical Guidelines for ViT feature knowledge distillation" (Yang et al., arXiv
    2209.02432). Shallow layers are *mimicked*: the student's patch tokens of the first two
    blocks are linearly projected to the teacher's width and matched to the teacher's tokens
    (squared error, weight ``alpha``). The deep layer is *generated*: the projected last-block
    tokens are masked at random (ratio ``lambda``, masked tokens replaced by a learnt mask
    token), laid out as a 2-D map and passed through a conv generation block (3x3 conv, ReLU,
    3x3 conv, shared with MGD); the squared error to the teacher's tokens on the masked
    positions, weight ``beta``, is the second term. Both are summed and divided by the batch
    size (and the generation term by ``lambda``), as in the official code. It combines with a
    logit loss such as :class:`mmext.NKDLoss`.

    Inputs are lists of token maps ``(B, extra + N, D)`` taken, e.g., from
    ``backbone.layers.0``, ``backbone.layers.1`` and ``backbone.ln1`` (last block after the
    final norm) of an mmpretrain ``VisionTransformer``; the leading ``num_extra_tokens``
    (class / distillation tokens) are dropped.

    Args:
        student_dims (int): Token width of the student.
        teacher_dims (int): Token width of the teacher.
        alpha_vitkd (float): Weight of the mimicking term. Defaults to 3e-5 (paper).
        beta_vitkd (float): Weight of the generation term. Defaults to 3e-6 (paper).
        lambda_vitkd (float): Ratio of masked tokens, in ``(0, 1)``. Defaults to 0.5 (paper).
        num_mimic_layers (int): How many shallow token maps are mimicked. Defaults to 2 (paper).
        num_extra_tokens (int): Leading non-patch tokens to drop. Defaults to 1 (class token).
    """

    requires_teacher = True
    requires_label = False

    def __init__(self,
                 student_dims: int,
                 teacher_dims: int,
                 alpha_vitkd: float = 3e-5,
                 beta_vitkd: float = 3e-6,
                 lambda_vitkd: float = 0.5,
                 num_mimic_layers: int = 2,
                 num_extra_tokens: int = 1) -> None:
        super().__init__()
        for name, value in (('student_dims', student_dims), ('teacher_dims', teacher_dims),
                            ('num_mimic_layers', num_mimic_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'"{name}" must be an int >= 1, got {value!r}')
        if not 0 < lambda_vitkd < 1:
            raise ValueError(f'"lambda_vitkd" must be in (0, 1), got {lambda_vitkd}')
        if alpha_vitkd < 0 or beta_vitkd < 0:
            raise ValueError('"alpha_vitkd" and "beta_vitkd" must be >= 0, got '
                             f'{alpha_vitkd}, {beta_vitkd}')
        if num_extra_tokens < 0:
            raise ValueError(f'"num_extra_tokens" must be >= 0, got {num_extra_tokens}')
        self.student_dims = student_dims
        self.teacher_dims = teacher_dims
        self.alpha_vitkd = alpha_vitkd
        self.beta_vitkd = beta_vitkd
        self.lambda_vitkd = lambda_vitkd
        self.num_mimic_layers = num_mimic_layers
        self.num_extra_tokens = num_extra_tokens

        def connector() -> nn.Module:
            return (nn.Linear(student_dims, teacher_dims)
                    if student_dims != teacher_dims else nn.Identity())

        self.align_mimic = nn.ModuleList(connector() for _ in range(num_mimic_layers))
        self.align_gen = connector()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, teacher_dims))
        self.generation = build_generation_block(teacher_dims)

    def check_inputs(self, preds_S: Sequence[torch.Tensor],
                     preds_T: Sequence[torch.Tensor]) -> None:
        """Raise ``ValueError`` naming the shapes when the token maps cannot be matched."""
        n_maps = self.num_mimic_layers + 1
        if len(preds_S) != n_maps or len(preds_T) != n_maps:
            raise ValueError(f'ViTKDLoss expects {n_maps} token maps from student and teacher '
                             f'({self.num_mimic_layers} mimicked + 1 generated), got '
                             f'{len(preds_S)} and {len(preds_T)}')
        for i, (s, t) in enumerate(zip(preds_S, preds_T)):
            shapes = f'student {tuple(s.shape)}, teacher {tuple(t.shape)} (map {i})'
            if s.dim() != 3 or t.dim() != 3:
                raise ValueError(f'ViTKDLoss expects (B, N, D) token maps, got {shapes}')
            if s.size(2) != self.student_dims or t.size(2) != self.teacher_dims:
                raise ValueError(f'ViTKDLoss was built for student_dims={self.student_dims}, '
                                 f'teacher_dims={self.teacher_dims} but got {shapes}')
            if s.shape[:2] != t.shape[:2]:
                raise ValueError(f'ViTKDLoss needs the same batch and token count, got {shapes}')
        num_patches = preds_S[-1].size(1) - self.num_extra_tokens
        if math.isqrt(num_patches)**2 != num_patches:
            raise ValueError(f'ViTKDLoss needs a square patch grid for generation, got '
                             f'{num_patches} patch tokens in {tuple(preds_S[-1].shape)}')

    def random_mask(self, batch: int, num_tokens: int, device: torch.device) -> torch.Tensor:
        """``(B, N, 1)`` float mask with exactly ``N - int(N * (1 - lambda))`` ones (masked)."""
        len_keep = int(num_tokens * (1 - self.lambda_vitkd))
        ids_shuffle = torch.rand(batch, num_tokens, device=device).argsort(dim=1)
        mask = torch.zeros(batch, num_tokens, device=device)
        mask.scatter_(1, ids_shuffle[:, len_keep:], 1.0)
        return mask.unsqueeze(-1)

    def forward(self, preds_S: Sequence[torch.Tensor],
                preds_T: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Compute the two terms.

        Args:
            preds_S (Sequence[Tensor]): Student token maps, ``num_mimic_layers`` shallow ones
                then the last one, each ``(B, extra + N, Ds)``.
            preds_T (Sequence[Tensor]): Teacher token maps, same layout, ``(B, extra + N, Dt)``.

        Returns:
            dict[str, Tensor]: ``mimic`` and ``generation`` scalar losses.
        """
        self.check_inputs(preds_S, preds_T)
        e = self.num_extra_tokens
        batch = preds_S[0].size(0)

        loss_mimic = preds_S[0].new_zeros((), dtype=torch.float)
        for align, s, t in zip(self.align_mimic, preds_S[:-1], preds_T[:-1]):
            # summed squared error in fp32: overflows fp16 under AMP otherwise
            loss_mimic = loss_mimic + F.mse_loss(
                align(s[:, e:]).float(), t[:, e:].detach().float(), reduction='sum')
        loss_mimic = loss_mimic / batch * self.alpha_vitkd

        x = self.align_gen(preds_S[-1][:, e:])
        b, n, d = x.shape
        mask = self.random_mask(b, n, x.device).to(x.dtype)
        x = x * (1 - mask) + self.mask_token.to(x.dtype) * mask
        hw = math.isqrt(n)
        # (B, N, D) -> (B, D, h, w) -> generation -> (B, N, D)
        x = x.transpose(1, 2).reshape(b, d, hw, hw)
        x = self.generation(x).flatten(2).transpose(1, 2)
        loss_gen = F.mse_loss((x * mask).float(), (preds_T[-1][:, e:].detach() * mask).float(),
                              reduction='sum')
        loss_gen = loss_gen / batch * self.beta_vitkd / self.lambda_vitkd
        return dict(mimic=loss_mimic, generation=loss_gen)
