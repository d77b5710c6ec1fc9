"""MGD (Yang et al., "Masked Generative Distillation", arXiv 2205.01529; official code:
yzd-v/MGD) and the channel-wise logit distillation it uses for segmentation (Shu et al.,
"Channel-wise Knowledge Distillation for Dense Prediction", arXiv 2011.13256)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['MGDLoss', 'ChannelWiseDivergence', 'build_generation_block']


def build_generation_block(channels: int) -> nn.Sequential:
    """The generation block of MGD, reused by ViTKD: 3x3 conv, ReLU, 3x3 conv.

    Args:
        channels (int): Input and output channels (the teacher's).

    Returns:
        nn.Sequential: The block, shape-preserving on ``(N, channels, H, W)``.
    """
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel_size=3, padding=1))


def _check_positive_int(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f'"{name}" must be an int >= 1, got {value!r}')


@MODELS.register_module()
class MGDLoss(nn.Module):
    """Masked generative distillation loss.

    From "Masked Generative Distillation" (Yang et al., arXiv 2205.01529). Random pixels (or,
    for classification as in the official code, random channels) of the student's feature map
    are zeroed; a small generation block (3x3 conv, ReLU, 3x3 conv) must then produce the
    teacher's *full* feature map. The loss is the summed squared error divided by the batch size
    and scaled by ``alpha_mgd``. A 1x1 conv aligns the student's channels when they differ from
    the teacher's. Published settings: classification, last stage, ``alpha=7e-5, lambda=0.15``
    (channel mask); one-stage detection, every FPN level, ``alpha=2e-5, lambda=0.65``; two-stage
    detection ``alpha=5e-7, lambda=0.45``; segmentation, last backbone stage,
    ``alpha=2e-5, lambda=0.75``.

    Args:
        student_channels (int): Channels of the student's feature map.
        teacher_channels (int): Channels of the teacher's feature map.
        alpha_mgd (float): Weight of the loss. Defaults to 2e-5 (one-stage detection).
        lambda_mgd (float): Ratio of masked pixels / channels, in ``[0, 1)``.
            Defaults to 0.65 (one-stage detection).
        mask_type (str): ``'spatial'`` masks pixels (shared over channels), ``'channel'`` masks
            whole channels (official classification code). Defaults to ``'spatial'``.
    """

    requires_teacher = True
    requires_label = False

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 alpha_mgd: float = 2e-5,
                 lambda_mgd: float = 0.65,
                 mask_type: str = 'spatial') -> None:
        super().__init__()
        _check_positive_int('student_channels', student_channels)
        _check_positive_int('teacher_channels', teacher_channels)
        if alpha_mgd < 0:
            raise ValueError(f'"alpha_mgd" must be >= 0, got {alpha_mgd}')
        if not 0 <= lambda_mgd < 1:
            raise ValueError(f'"lambda_mgd" must be in [0, 1), got {lambda_mgd}')
        if mask_type not in ('spatial', 'channel'):
            raise ValueError(f'"mask_type" must be "spatial" or "channel", got {mask_type!r}')
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.alpha_mgd = alpha_mgd
        self.lambda_mgd = lambda_mgd
        self.mask_type = mask_type
        # the connector: only needed when the channel counts differ
        self.align = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if student_channels != teacher_channels else nn.Identity())
        self.generation = build_generation_block(teacher_channels)

    def check_inputs(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> None:
        """Raise ``ValueError`` naming both shapes when the feature maps cannot be matched."""
        shapes = f'student {tuple(preds_S.shape)}, teacher {tuple(preds_T.shape)}'
        if preds_S.dim() != 4 or preds_T.dim() != 4:
            raise ValueError(f'MGDLoss expects (N, C, H, W) feature maps, got {shapes}')
        if preds_S.size(1) != self.student_channels or preds_T.size(1) != self.teacher_channels:
            raise ValueError(
                f'MGDLoss was built for student_channels={self.student_channels}, '
                f'teacher_channels={self.teacher_channels} but got {shapes}')
        if preds_S.shape[0] != preds_T.shape[0] or preds_S.shape[2:] != preds_T.shape[2:]:
            raise ValueError('MGDLoss needs the same batch and spatial size for student and '
                             f'teacher (no spatial connector), got {shapes}')

    def random_keep_mask(self, preds: torch.Tensor) -> torch.Tensor:
        """A {0, 1} mask broadcastable to ``preds``; 0 marks masked pixels / channels."""
        n, c, h, w = preds.shape
        shape = (n, 1, h, w) if self.mask_type == 'spatial' else (n, c, 1, 1)
        return (torch.rand(shape, device=preds.device) >= self.lambda_mgd).to(preds.dtype)

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds_S (Tensor): Student feature map ``(N, Cs, H, W)``.
            preds_T (Tensor): Teacher feature map ``(N, Ct, H, W)``.

        Returns:
            Tensor: Scalar loss.
        """
        self.check_inputs(preds_S, preds_T)
        preds_S = self.align(preds_S)
        new_fea = self.generation(preds_S * self.random_keep_mask(preds_S))
        # squared errors summed in fp32: a sum over C*H*W entries overflows fp16 under AMP
        loss = F.mse_loss(new_fea.float(), preds_T.detach().float(), reduction='sum')
        return loss / preds_S.size(0) * self.alpha_mgd


@MODELS.register_module()
class ChannelWiseDivergence(nn.Module):
    """Channel-wise distillation of dense logits (CWD).

    From "Channel-wise Knowledge Distillation for Dense Prediction" (Shu et al., arXiv
    2011.13256), used by MGD's segmentation recipe (``tau=4``, weight 3). Every channel of the
    ``(N, C, H, W)`` logits is turned into a spatial distribution by a softmax over ``H * W`` at
    temperature ``tau``; the loss is the KL divergence teacher -> student summed over pixels,
    multiplied by ``tau^2`` and averaged over ``N * C`` channels.

    Args:
        tau (float): Temperature. Defaults to 4.0 (paper).
    """

    requires_teacher = True
    requires_label = False

    def __init__(self, tau: float = 4.0) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f'"tau" must be > 0, got {tau}')
        self.tau = tau

    def check_inputs(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> None:
        """Raise ``ValueError`` naming both shapes unless they are equal ``(N, C, H, W)``."""
        if preds_S.dim() != 4 or preds_S.shape != preds_T.shape:
            raise ValueError('ChannelWiseDivergence needs equal (N, C, H, W) logits, got student '
                             f'{tuple(preds_S.shape)}, teacher {tuple(preds_T.shape)}')

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds_S (Tensor): Student logits ``(N, C, H, W)``.
            preds_T (Tensor): Teacher logits ``(N, C, H, W)``.

        Returns:
            Tensor: Scalar loss.
        """
        self.check_inputs(preds_S, preds_T)
        n, c = preds_S.shape[:2]
        # (N, C, H, W) -> (N * C, H * W), fp32 log-softmax for AMP safety
        log_s = F.log_softmax(preds_S.float().flatten(2).flatten(0, 1) / self.tau, dim=1)
        log_t = F.log_softmax(preds_T.detach().float().flatten(2).flatten(0, 1) / self.tau, dim=1)
        kl = (log_t.exp() * (log_t - log_s)).sum()
        return kl * self.tau**2 / (n * c)
