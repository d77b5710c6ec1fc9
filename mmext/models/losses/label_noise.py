"""Dynamic distribution calibration against instance-dependent label noise (arXiv 2210.05126)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['DistributionCalibrationLoss', 'agnostic_mean', 'calibrated_gaussian']

_MODES = ('mean', 'covariance')


def _sym_eigh(cov: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Ascending eigen-decomposition of a PSD matrix that never fails.

    Memory features are often duplicated or rank deficient (N < D), where LAPACK's ``eigh``
    can fail to converge in fp32; fp64, exact symmetry and an SVD fallback avoid that.
    """
    cov64 = cov.double()
    cov64 = 0.5 * (cov64 + cov64.t())
    try:
        evals, evecs = torch.linalg.eigh(cov64)
    except RuntimeError:  # torch.linalg.LinAlgError is a RuntimeError
        u, s, _ = torch.linalg.svd(cov64)
        evals, evecs = s.flip(0), u.flip(1)
    return evals.to(cov.dtype), evecs.to(cov.dtype)


def agnostic_mean(x: torch.Tensor) -> torch.Tensor:
    """Robust mean by recursive outlier damping and projection ("AgnosticMean").

    The estimator used by the mean-based calibration of "Tackling Instance-Dependent Label
    Noise with Dynamic Distribution Calibration" (Zhang et al., ACM MM 2022, arXiv 2210.05126),
    after Lai, Rao & Vempala (2016). Outliers (mislabelled samples) are damped with weights
    ``exp(-||x - median||^2 / s^2)``; their shift of the mean shows up in the top principal
    directions of the weighted covariance, so the weighted mean is kept only on the bottom half
    of the spectrum and the estimator recurses on the projection onto the top half, down to one
    dimension where the median is used. ``s^2`` is the median squared distance to the
    coordinate-wise median (scale free; the analysis uses a known variance instead).

    Args:
        x (Tensor): Samples, ``(N, D)``.

    Returns:
        Tensor: Robust mean, ``(D, )``, in ``x``'s dtype.
    """
    if x.dim() != 2 or x.size(0) < 1:
        raise ValueError(f'"x" must have shape (N >= 1, D), got {tuple(x.shape)}')
    dtype = x.dtype
    x = x.float()  # eigh and exp need fp32 even under AMP
    n, d = x.shape
    if d == 1:
        return x.median(dim=0).values.to(dtype)
    # outlier damping around the coordinate-wise median
    med = x.median(dim=0).values
    sq = (x - med).pow(2).sum(dim=1)
    scale = sq.median().clamp_min(1e-12)
    w = torch.exp(-sq / scale)
    w = w / w.sum()
    mu_w = (w[:, None] * x).sum(dim=0)
    xc = x - mu_w
    cov = (w[:, None] * xc).t().matmul(xc)
    # eigh returns ascending eigenvalues: the last ceil(D / 2) vectors span the top half
    evecs = _sym_eigh(cov)[1]
    k_top = d - d // 2
    top, bottom = evecs[:, d - k_top:], evecs[:, :d - k_top]
    mean = bottom.matmul(bottom.t().matmul(mu_w)) + top.matmul(agnostic_mean(x.matmul(top)))
    return mean.to(dtype)


def calibrated_gaussian(x: torch.Tensor,
                        mode: str = 'mean',
                        alpha: float = 0.1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Calibrated Gaussian of one class: mean and a square root of its covariance.

    ``mode='mean'`` (MDDC): the mean is :func:`agnostic_mean` and the covariance the empirical
    one around it. ``mode='covariance'`` (CDDC): the empirical mean, and the empirical
    covariance plus the disturbance ``alpha * 1 1^T`` (the all-ones matrix of the paper) that
    widens the region sampled around the monotonous "clean" subset.

    Args:
        x (Tensor): Features of one class, ``(N, D)`` with ``N >= 2``.
        mode (str): ``'mean'`` or ``'covariance'``. Defaults to ``'mean'``.
        alpha (float): Disturbance strength of the covariance mode. Defaults to 0.1.

    Returns:
        tuple[Tensor, Tensor]: ``mean (D, )`` and ``sqrt_cov (D, D)`` with
        ``sqrt_cov @ sqrt_cov.T`` the covariance (fp32).
    """
    if mode not in _MODES:
        raise ValueError(f'"mode" must be one of {_MODES}, got {mode!r}')
    if x.dim() != 2 or x.size(0) < 2:
        raise ValueError(f'"x" must have shape (N >= 2, D), got {tuple(x.shape)}')
    x = x.float()
    mean = agnostic_mean(x) if mode == 'mean' else x.mean(dim=0)
    xc = x - mean
    cov = xc.t().matmul(xc) / (x.size(0) - 1)
    if mode == 'covariance':
        cov = cov + alpha * torch.ones_like(cov)
    # eigen square root instead of Cholesky: rank-deficient covariances (N < D) are fine
    evals, evecs = _sym_eigh(cov)
    return mean, evecs * evals.clamp_min(0.).sqrt()


@MODELS.register_module()
class DistributionCalibrationLoss(nn.Module):
    """Cross-entropy on real features plus on features sampled from calibrated class Gaussians.

    From "Tackling Instance-Dependent Label Noise with Dynamic Distribution Calibration" (Zhang
    et al., ACM MM 2022, arXiv 2210.05126). Each class's clean deep features are assumed
    Gaussian; label noise adds outliers that shift it. The class Gaussian is re-estimated during
    training either with a robust mean (``mode='mean'``, MDDC) or with a disturbed covariance
    (``mode='covariance'``, CDDC), and features sampled from it train the classifier together
    with the real (label-corrected) batch:
    ``loss_weight * (CE(real) + sample_weight * CE(sampled))``.

    The statistics (a feature memory per class) and the label correction live in
    :class:`mmext.DistributionCalibrationHead`; this module holds the estimator settings and
    the loss.

    Args:
        mode (str): ``'mean'`` (MDDC) or ``'covariance'`` (CDDC). Defaults to ``'mean'``.
        alpha (float): Covariance disturbance of CDDC (tuned on a noisy validation set in the
            paper; not given as one value). Defaults to 0.1.
        num_samples (int): Features sampled per class per iteration. Defaults to 16.
        sample_weight (float): Weight of the sampled-feature cross-entropy. Defaults to 1.0.
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 mode: str = 'mean',
                 alpha: float = 0.1,
                 num_samples: int = 16,
                 sample_weight: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f'"mode" must be one of {_MODES}, got {mode!r}')
        if alpha < 0:
            raise ValueError(f'"alpha" must be >= 0, got {alpha}')
        if num_samples < 1:
            raise ValueError(f'"num_samples" must be >= 1, got {num_samples}')
        if sample_weight < 0:
            raise ValueError(f'"sample_weight" must be >= 0, got {sample_weight}')
        self.mode = mode
        self.alpha = alpha
        self.num_samples = num_samples
        self.sample_weight = sample_weight
        self.loss_weight = loss_weight

    def calibrate(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Calibrated ``(mean, sqrt_cov)`` of one class's features (see
        :func:`calibrated_gaussian`)."""
        return calibrated_gaussian(x, self.mode, self.alpha)

    def sample(self, means: torch.Tensor, sqrt_covs: torch.Tensor,
               generator: Optional[torch.Generator] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw ``num_samples`` features per class.

        Args:
            means (Tensor): ``(C', D)`` class means.
            sqrt_covs (Tensor): ``(C', D, D)`` covariance square roots.
            generator (torch.Generator, optional): RNG for reproducible draws.

        Returns:
            tuple[Tensor, Tensor]: features ``(C' * num_samples, D)`` and the row index of the
            class each was drawn from, ``(C' * num_samples, )``.
        """
        c, d = means.shape
        z = torch.randn(c, self.num_samples, d, device=means.device, dtype=means.dtype,
                        generator=generator)
        # (C', S, D) x (C', D, D)^T -> (C', S, D)
        feats = means[:, None, :] + z.matmul(sqrt_covs.transpose(1, 2))
        idx = torch.arange(c, device=means.device).repeat_interleave(self.num_samples)
        return feats.reshape(c * self.num_samples, d), idx

    def forward(self,
                cls_score: torch.Tensor,
                target: torch.Tensor,
                sampled_score: Optional[torch.Tensor] = None,
                sampled_target: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): Logits of the real batch, ``(B, C)``.
            target (Tensor): (Corrected) labels of the real batch, ``(B, )``.
            sampled_score (Tensor, optional): Logits of the sampled features, ``(S, C)``.
            sampled_target (Tensor, optional): Classes the features were sampled from.

        Returns:
            Tensor: Scalar loss.
        """
        # F.cross_entropy is a log-sum-exp form; fp32 keeps it exact under AMP
        loss = F.cross_entropy(cls_score.float(), target)
        if sampled_score is not None and sampled_score.numel() > 0 and self.sample_weight > 0:
            loss = loss + self.sample_weight * F.cross_entropy(sampled_score.float(),
                                                               sampled_target)
        return self.loss_weight * loss
