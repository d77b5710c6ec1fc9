"""CoKe head: online constrained k-means and cluster discrimination (arXiv 2105.11527)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather
from mmengine.model import BaseModule

from mmext.registry import MODELS

__all__ = ['CoKeHead']


def _gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, in rank order (``x`` itself in a single process); no gradient."""
    return torch.cat(all_gather(x.detach().contiguous()))


@MODELS.register_module()
class CoKeHead(BaseModule):
    """Online constrained k-means clustering and the cluster-discrimination loss of CoKe.

    From "Unsupervised Visual Representation Learning by Online Constrained K-Means" (Qian et
    al., CVPR 2022, arXiv 2105.11527; official code idstcv/CoKe). Each of the ``len(num_clusters)``
    clusterings keeps, as buffers, centres on the unit sphere, one dual variable per cluster and
    the cluster each training instance was given (indexed by its dataset index):

    - *assignment* of the current (all-gathered) batch: ``argmax_k <x_i, c_k> + rho_k`` with the
      centres being built in this epoch, ``x_i`` the mean of the two views' normalised
      projections;
    - *dual ascent* for the constraint "every cluster holds at least ``ratio * N / K``
      instances": ``rho_k <- max(0, rho_k + dual_lr * (ratio / K - n_k / B))`` with ``n_k`` the
      batch members of cluster ``k`` and ``B`` the global batch (the clip at 0 applies when
      ``ratio < 1``);
    - *centre update*: the running mean of the normalised centre and the members seen in this
      epoch, re-normalised;
    - *discrimination*: each view is classified into the centres frozen at the end of the
      previous epoch (cosine / ``temperature``) with the labels of the previous epoch (in epoch
      0, whose learning rate is 0 in the official schedule, the labels just assigned) mixed
      with the other view's soft assignment by :class:`mmext.CoKeLoss`, for both the projection
      and the predictor output, averaged as in the official ``main_double_view.py`` /
      ``main_multi_view.py``. Small crops (multi-crop) add a term weighted ``1 - beta``.

    :class:`mmext.CoKeHook` closes an epoch (previous centres <- current ones, member counts
    reset). All ranks run the same clustering step on the same gathered batch, so the buffers
    stay identical across ranks without communication beyond the gather.

    Args:
        num_instances (int): Number of training images (size of the label table); the data
            samples' ``sample_idx`` must lie in ``[0, num_instances)``.
        num_clusters (Sequence[int]): ``K`` of each clustering. Defaults to (3000, 4000, 5000)
            (official ``--coke-k``).
        feat_dim (int): Width of the projection. Defaults to 128 (official ``--coke-dim``).
        predictor (dict, optional): Prediction MLP applied to the (unnormalised) projection,
            e.g. mmpretrain's ``NonLinearNeck``; None uses the projection alone (both
            branches then coincide). Defaults to None.
        temperature (float): Temperature of the cluster logits. Defaults to 0.05 (official
            ``--coke-t`` for two views).
        dual_lr (float): Step size of the dual ascent. Defaults to 20 (official).
        ratio (float): Lower bound of a cluster's size as a fraction of ``N / K`` (``gamma``).
            Defaults to 0.4 (official).
        beta (float): Weight of the two large views when small crops are given (the small
            crops get ``1 - beta``). Defaults to 0.5 (official ``--coke-beta``).
        loss (dict): Per-view loss. Defaults to ``dict(type='mmext.CoKeLoss', alpha=0.2)``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_instances: int,
                 num_clusters: Sequence[int] = (3000, 4000, 5000),
                 feat_dim: int = 128,
                 predictor: Optional[dict] = None,
                 temperature: float = 0.05,
                 dual_lr: float = 20.,
                 ratio: float = 0.4,
                 beta: float = 0.5,
                 loss: dict = dict(type='mmext.CoKeLoss', alpha=0.2),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_clusters = tuple(num_clusters)
        if not num_clusters or any(int(k) != k or k < 2 for k in num_clusters):
            raise ValueError(f'"num_clusters" must be a non-empty list of ints >= 2, got '
                             f'{num_clusters}')
        if num_instances < max(num_clusters):
            raise ValueError(f'"num_instances" ({num_instances}) must be at least the largest '
                             f'of "num_clusters" {num_clusters}')
        if temperature <= 0 or dual_lr < 0:
            raise ValueError(f'"temperature" must be > 0 and "dual_lr" >= 0, got '
                             f'{temperature} and {dual_lr}')
        if not 0 <= ratio <= 1 or not 0 <= beta <= 1:
            raise ValueError(f'"ratio" and "beta" must be in [0, 1], got {ratio} and {beta}')
        self.num_instances = num_instances
        self.num_clusters = num_clusters
        self.feat_dim = feat_dim
        self.temperature = temperature
        self.dual_lr = dual_lr
        self.ratio = ratio
        self.beta = beta
        self.predictor = MODELS.build(predictor) if predictor is not None else None
        self.loss_module = MODELS.build(loss)

        self.register_buffer('epoch', torch.zeros((), dtype=torch.long))
        self.register_buffer('labels', torch.zeros(len(num_clusters), num_instances,
                                                   dtype=torch.long))
        for j, k in enumerate(num_clusters):
            centres = F.normalize(torch.randn(k, feat_dim), dim=1)
            self.register_buffer(f'centres_prev_{j}', centres.clone())  # used by the loss
            self.register_buffer(f'centres_cur_{j}', centres)  # built in this epoch
            self.register_buffer(f'duals_{j}', torch.zeros(k))
            self.register_buffer(f'counts_{j}', torch.zeros(k))

    # clustering state of clustering j: (previous centres, current centres, duals, counts)
    def _state(self, j: int):
        return (getattr(self, f'centres_prev_{j}'), getattr(self, f'centres_cur_{j}'),
                getattr(self, f'duals_{j}'), getattr(self, f'counts_{j}'))

    @torch.no_grad()
    def assign(self, feats: torch.Tensor, j: int) -> torch.Tensor:
        """Constrained assignment ``argmax_k <x_i, c_k> + rho_k`` of ``feats`` ``(B, d)``."""
        _, centres, duals, _ = self._state(j)
        return (feats @ centres.t() + duals).argmax(dim=1)

    @torch.no_grad()
    def update(self, feats: torch.Tensor, labels: torch.Tensor, j: int) -> None:
        """Dual ascent on the cluster-size constraint, then the running-mean centre update."""
        _, centres, duals, counts = self._state(j)
        ids, n = labels.unique(return_counts=True)
        duals[ids] -= self.dual_lr * n.to(duals) / labels.numel()
        duals += self.dual_lr * self.ratio / self.num_clusters[j]
        if self.ratio < 1:
            duals.clamp_(min=0)
        old = counts[ids].clone()
        counts[ids] += n.to(counts)
        centres[ids] *= (old / counts[ids]).unsqueeze(1)
        centres.index_add_(0, labels, feats / counts[labels].unsqueeze(1))
        centres[ids] = F.normalize(centres[ids], dim=1)

    @torch.no_grad()
    def set_epoch(self, epoch: int) -> None:
        """Close every epoch before ``epoch``: the centres built in it become the previous
        centres (those the loss discriminates) and the member counts restart."""
        while int(self.epoch) < epoch:
            for j in range(len(self.num_clusters)):
                prev, cur, _, counts = self._state(j)
                prev.copy_(cur)
                counts.zero_()
            self.epoch += 1

    @torch.no_grad()
    def cluster_step(self, feats: torch.Tensor, instance_ids: torch.Tensor) -> torch.Tensor:
        """Assign the gathered batch, update the clusterings; return the local batch's labels
        for the loss ``(H, B)``: those of the previous epoch (of this one in epoch 0)."""
        if instance_ids.min() < 0 or instance_ids.max() >= self.num_instances:
            raise ValueError(f'sample_idx must lie in [0, num_instances={self.num_instances}), '
                             f'got values in [{int(instance_ids.min())}, '
                             f'{int(instance_ids.max())}]: set the head\'s "num_instances" to '
                             f'the size of the training set')
        all_feats = _gather_rows(feats.float())
        all_ids = _gather_rows(instance_ids)
        first_epoch = int(self.epoch) == 0
        targets = []
        for j in range(len(self.num_clusters)):
            if not first_epoch:
                targets.append(self.labels[j, instance_ids].clone())
            labels = self.assign(all_feats, j)
            self.update(all_feats, labels, j)
            self.labels[j, all_ids] = labels
            if first_epoch:
                targets.append(self.labels[j, instance_ids].clone())
        return torch.stack(targets)

    def _logits(self, x: torch.Tensor, j: int) -> torch.Tensor:
        centres = self._state(j)[0]
        return F.normalize(x.float(), dim=1) @ centres.t() / self.temperature

    def loss(self, large: Sequence[torch.Tensor], small: Sequence[torch.Tensor],
             instance_ids: torch.Tensor) -> Dict[str, torch.Tensor]:
        """CoKe loss of one batch.

        Args:
            large (Sequence[Tensor]): Projections of the two large views, each ``(B, feat_dim)``.
            small (Sequence[Tensor]): Projections of the small crops (may be empty).
            instance_ids (Tensor): Dataset index of each image, ``(B, )``.

        Returns:
            dict[str, Tensor]: ``loss``; with small crops also its two terms ``large_views`` /
            ``small_crops`` (detached, for the log: mmengine sums every key holding "loss").
        """
        if len(large) != 2:
            raise ValueError(f'CoKeHead expects exactly 2 large views, got {len(large)} (the '
                             f'single-view variant of the paper is not implemented)')
        views = [*large, *small]
        for v in views:
            if v.dim() != 2 or v.size(1) != self.feat_dim:
                raise ValueError(f'CoKeHead expects projections of shape (B, {self.feat_dim}) '
                                 f'("feat_dim"), got {tuple(v.shape)}')
        preds = [self.predictor([v])[0] if self.predictor is not None else v for v in views]
        # clustering, cosine logits and loss in fp32 even under AMP autocast
        with torch.autocast(device_type=large[0].device.type, enabled=False):
            return self._loss([v.float() for v in views], [p.float() for p in preds],
                              instance_ids.to(large[0].device), len(small))

    def _loss(self, views: List[torch.Tensor], preds: List[torch.Tensor],
              instance_ids: torch.Tensor, num_small: int) -> Dict[str, torch.Tensor]:
        with torch.no_grad():
            mean = (F.normalize(views[0], dim=1) + F.normalize(views[1], dim=1))
            targets = self.cluster_step(mean / 2, instance_ids)

        num_heads = len(self.num_clusters)
        loss_large = loss_small = 0.
        for j in range(num_heads):
            proj = [self._logits(v, j) for v in views]
            pred = [self._logits(p, j) for p in preds]
            with torch.no_grad():
                soft = [F.softmax(p, dim=1) for p in proj[:2]]
            for v in range(2):
                for logits in (pred[v], proj[v]):
                    loss_large += self.loss_module(logits, targets[j], soft[1 - v])
            for v in range(2, 2 + num_small):
                for logits in (pred[v], proj[v]):
                    loss_small += self.loss_module(
                        logits, targets[j], soft[0] + soft[1], hard_weight=2.)
        loss_large = loss_large * 0.5 / (2 * num_heads)
        if not num_small:
            return dict(loss=loss_large)
        loss_small = loss_small * 0.5 / (2 * num_small * num_heads)
        return dict(loss=self.beta * loss_large + (1 - self.beta) * loss_small,
                    large_views=loss_large.detach(), small_crops=loss_small.detach())
