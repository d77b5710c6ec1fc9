"""SoftTriple loss (Qian et al., ICCV 2019, arXiv 1909.05235)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['SoftTripleLoss', 'soft_triple_class_similarity']


def soft_triple_class_similarity(embeddings: torch.Tensor, centers: torch.Tensor,
                                 num_classes: int, gamma: float) -> torch.Tensor:
    """Relaxed similarity between embeddings and classes with several centers.

    Each class ``c`` owns ``K`` centers; the similarity to the class is the softmax-weighted
    average of the similarities to its centers, ``S_c = sum_k softmax(s_ck / gamma)_k * s_ck``.

    Args:
        embeddings (Tensor): L2-normalised embeddings, shape ``(B, D)``.
        centers (Tensor): L2-normalised centers, shape ``(num_classes * K, D)``, class-major
            (rows ``c * K ... c * K + K - 1`` belong to class ``c``).
        num_classes (int): Number of classes ``C``.
        gamma (float): Softmax temperature over the centers of one class (paper: 0.1).

    Returns:
        Tensor: Class similarities, shape ``(B, C)``.
    """
    # (B, D) x (C*K, D)^T -> (B, C*K) -> (B, C, K)
    sim = embeddings.matmul(centers.t()).reshape(embeddings.size(0), num_classes, -1)
    # softmax is max-subtracted internally, so 1 / gamma = 10 cannot overflow under AMP
    prob = F.softmax(sim / gamma, dim=2)
    return (prob * sim).sum(dim=2)


@MODELS.register_module()
class SoftTripleLoss(nn.Module):
    """SoftTriple loss with a center-merging regulariser.

    From "SoftTriple Loss: Deep Metric Learning Without Triplet Sampling" (Qian et al., ICCV
    2019, arXiv 1909.05235). Every class is modelled by ``K`` centers; the relaxed class
    similarity (softmax-weighted over the centers) enters a scaled softmax cross-entropy with a
    margin on the true class, which equals a smoothed triplet loss over all triplets without
    sampling. A regulariser pulls the centers of one class together so that redundant centers
    merge: ``tau * sum_c sum_{k<k'} sqrt(2 - 2 <w_ck, w_ck'>) / (C K (K - 1))``. With ``K = 1``
    the loss is a normalised softmax cross-entropy with margin.

    The centers live in the head (:class:`mmext.SoftTripleHead`); the loss receives them.

    Args:
        num_classes (int): Number of classes ``C``.
        num_centers (int): Centers per class ``K``. Defaults to 10 (paper).
        la (float): Scale ``lambda`` of the logits. Defaults to 20 (paper).
        gamma (float): Temperature of the softmax over centers. Defaults to 0.1 (paper).
        tau (float): Weight of the center-merging regulariser; ignored when ``K == 1``.
            Defaults to 0.2 (paper).
        margin (float): Margin ``delta`` subtracted from the true-class similarity.
            Defaults to 0.01 (paper).
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 num_classes: int,
                 num_centers: int = 10,
                 la: float = 20.,
                 gamma: float = 0.1,
                 tau: float = 0.2,
                 margin: float = 0.01,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f'"num_classes" must be >= 2, got {num_classes}')
        if num_centers < 1:
            raise ValueError(f'"num_centers" must be >= 1, got {num_centers}')
        if la <= 0:
            raise ValueError(f'"la" must be > 0, got {la}')
        if gamma <= 0:
            raise ValueError(f'"gamma" must be > 0, got {gamma}')
        if tau < 0:
            raise ValueError(f'"tau" must be >= 0, got {tau}')
        self.num_classes = num_classes
        self.num_centers = num_centers
        self.la = la
        self.gamma = gamma
        self.tau = tau
        self.margin = margin
        self.loss_weight = loss_weight
        # strict upper triangle inside each class block: the K (K - 1) / 2 pairs of the regulariser
        k = torch.arange(num_classes * num_centers)
        same_class = (k[:, None] // num_centers) == (k[None, :] // num_centers)
        self.register_buffer('pair_mask', same_class & (k[:, None] < k[None, :]), persistent=False)

    def class_logits(self, embeddings: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Scaled relaxed class similarities ``lambda * S``, shape ``(B, C)`` (no margin)."""
        return self.la * soft_triple_class_similarity(embeddings, centers, self.num_classes,
                                                      self.gamma)

    def regularizer(self, centers: torch.Tensor) -> torch.Tensor:
        """Center-merging term ``sum_{k<k'} ||w_k - w_k'|| / (C K (K - 1))`` (unit centers)."""
        k = self.num_centers
        if k == 1:
            return centers.new_zeros(())
        sim = centers.matmul(centers.t())[self.pair_mask]
        # the 1e-5 keeps sqrt differentiable when two centers coincide (sim == 1)
        dist = torch.sqrt((2.0 + 1e-5 - 2.0 * sim).clamp_min(0.))
        return dist.sum() / (self.num_classes * k * (k - 1))

    def forward(self, embeddings: torch.Tensor, centers: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            embeddings (Tensor): L2-normalised embeddings, ``(B, D)``.
            centers (Tensor): L2-normalised centers, ``(num_classes * num_centers, D)``.
            target (Tensor): Class indices, ``(B, )``.

        Returns:
            Tensor: Scalar loss.
        """
        expected = self.num_classes * self.num_centers
        if centers.dim() != 2 or centers.size(0) != expected:
            raise ValueError(f'"centers" must have shape (num_classes * num_centers = {expected}, '
                             f'D), got {tuple(centers.shape)}')
        if embeddings.dim() != 2 or embeddings.size(1) != centers.size(1):
            raise ValueError(f'"embeddings" must have shape (B, {centers.size(1)}), '
                             f'got {tuple(embeddings.shape)}')
        # fp32 even under AMP autocast: lambda and the 1 / gamma temperature amplify fp16
        # rounding of the similarities; softmax / cross-entropy are log-sum-exp forms
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            embeddings = embeddings.float()
            centers = centers.float()
            sim_class = soft_triple_class_similarity(embeddings, centers, self.num_classes,
                                                     self.gamma)
            margin = F.one_hot(target, self.num_classes).to(sim_class) * self.margin
            loss = F.cross_entropy(self.la * (sim_class - margin), target)
            if self.tau > 0:
                loss = loss + self.tau * self.regularizer(centers)
        return self.loss_weight * loss
