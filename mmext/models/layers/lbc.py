"""LBC N:M sparse conv / linear layers.

Learning Best Combination for Efficient N:M Sparsity (Zhang et al., NeurIPS 2022,
arXiv:2206.06662).
"""
import itertools
import math
from typing import Dict

import torch
import torch.nn as nn
from torch import Tensor

from mmext.registry import MODELS
from .compression_utils import CompressedLayerMixin, ungroup_along_input

__all__ = ['combination_matrix', 'LBCConv2d', 'LBCLinear']


def combination_matrix(n: int, m: int) -> Tensor:
    """``(C(M, N), M)`` 0/1 matrix whose rows are all N-subsets of M positions."""
    combos = list(itertools.combinations(range(m), n))
    mat = torch.zeros(len(combos), m)
    for i, c in enumerate(combos):
        mat[i, list(c)] = 1.0
    return mat


class _LBCMixin(CompressedLayerMixin):
    """Combination scores and mask shared by :class:`LBCConv2d` and :class:`LBCLinear`; see
    their docstrings for the arguments.

    Mixed in before ``nn.Conv2d`` / ``nn.Linear``: the host layer is built from ``*args`` /
    ``**kwargs`` first, so the scores can be sized from its weight.
    """

    def __init__(self, *args, N: int = 2, M: int = 4, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        n, m = N, M
        if not isinstance(n, int) or not isinstance(m, int) or n < 1 or m < 1:
            raise ValueError(f'"N" and "M" must be positive ints, got N={n!r}, M={m!r}')
        if n > m:
            raise ValueError(f'"N" must be <= "M" for N:M sparsity, got N={n} > M={m}')
        in_dim = self.weight.shape[1]  # input channels per group, or in_features
        if in_dim % m != 0:
            raise ValueError(f'the input dim {in_dim} of {type(self).__name__} (weight shape '
                             f'{tuple(self.weight.shape)}) must be divisible by "M"={m}: N:M '
                             f'groups run along the input dim')
        self.n, self.m = n, m
        combos = combination_matrix(n, m)
        num_groups = self.weight.numel() // m
        self.register_buffer('combinations', combos)
        # Every combination starts with the same score 1 / C(M-1, N-1): each weight belongs to
        # C(M-1, N-1) combinations, so its initial mask value sums to 1 (official code).
        init = 1.0 / math.comb(m - 1, n - 1)
        self.lbc_scores = nn.Parameter(torch.full((num_groups, combos.shape[0]), init))
        self.register_buffer('lbc_alive', torch.ones(num_groups, combos.shape[0],
                                                     dtype=torch.bool))

    @property
    def num_combinations(self) -> int:
        return self.combinations.shape[0]

    def mask(self) -> Tensor:
        """Binary weight mask; its gradient reaches the combination scores.

        Forward: a weight is kept while at least one alive combination contains it.
        Backward (straight-through, official code): the gradient w.r.t. the mask passes unchanged
        to the soft mask ``(scores * alive) @ combinations``, so a score receives the sum over its
        N positions of ``dL/dmask = dL/dw_eff * w``.
        """
        alive = self.lbc_alive.to(self.lbc_scores.dtype)
        soft = (self.lbc_scores * alive) @ self.combinations  # (groups, C) @ (C, M)
        hard = (alive @ self.combinations > 0).to(soft.dtype)
        groups = hard + (soft - soft.detach())
        return ungroup_along_input(groups, self.weight.shape)

    def compressed_weight(self) -> Tensor:
        return self.weight * self.mask()

    @torch.no_grad()
    def remove_combinations(self, num_removed: int) -> None:
        """Kill the lowest-scored combinations of every group until ``num_removed`` are dead.

        Dead combinations stay dead: they are ranked below every alive one.
        """
        num_removed = min(max(int(num_removed), 0), self.num_combinations - 1)
        if num_removed == 0:
            return
        ranked = self.lbc_scores.masked_fill(~self.lbc_alive, float('-inf'))
        idx = ranked.topk(num_removed, dim=1, largest=False).indices
        self.lbc_alive.scatter_(1, idx, False)

    @property
    def nm_satisfied(self) -> bool:
        """True once a single combination is alive in every group (N:M reached)."""
        return bool((self.lbc_alive.sum(dim=1) == 1).all())

    def compression_info(self) -> Dict:
        return dict(method='LBC', N=self.n, M=self.m,
                    alive_combinations=float(self.lbc_alive.float().sum(1).mean()),
                    nm_satisfied=self.nm_satisfied)


@MODELS.register_module()
class LBCConv2d(_LBCMixin, nn.Conv2d):
    """N:M sparse Conv2d learned by Learning Best Combination (LBC).

    From "Learning Best Combination for Efficient N:M Sparsity" (arXiv:2206.06662). Every group
    of M consecutive weights along the input-channel dim (at each kernel position) owns C(M, N)
    candidate N-subsets, each with a learnable score trained jointly with the weights;
    :class:`mmext.LBCHook` gradually kills the lowest-scored subsets until one per group is left,
    so the weight becomes exactly N:M sparse without a dense pre-training phase.

    Args:
        *args: Positional arguments of ``nn.Conv2d``.
        N (int): Non-zeros kept per group, ``1 <= N <= M``. Defaults to 2.
        M (int): Group size; the input channels per conv group must be divisible by M.
            Defaults to 4.
        **kwargs: Keyword arguments of ``nn.Conv2d``.
    """


@MODELS.register_module()
class LBCLinear(_LBCMixin, nn.Linear):
    """N:M sparse Linear layer learned by Learning Best Combination (LBC, arXiv:2206.06662).

    Groups of M consecutive input features; see :class:`LBCConv2d`.

    Args:
        *args: Positional arguments of ``nn.Linear``.
        N (int): Non-zeros kept per group, ``1 <= N <= M``. Defaults to 2.
        M (int): Group size; ``in_features`` must be divisible by M. Defaults to 4.
        **kwargs: Keyword arguments of ``nn.Linear``.
    """
