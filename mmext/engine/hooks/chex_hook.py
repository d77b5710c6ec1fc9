"""Channel exploration by repeated pruning and regrowing (CHEX, arXiv:2203.15794)."""
import math
from typing import Dict, List

import torch
from mmengine.hooks import Hook
from torch import Tensor

from mmext.models.layers.channel_pruning import (ChannelGroup, apply_channel_masks,
                                                 group_weight_matrix, resnet_channel_groups)
from mmext.models.layers.compression_utils import unwrap_model
from mmext.registry import HOOKS

__all__ = ['CHEXHook', 'leverage_scores', 'regrow_probabilities', 'allocate_channels']


def leverage_scores(x: Tensor, k: int) -> Tensor:
    """Column-subset-selection scores of the ``C`` columns (channels) of ``x`` (``(d, C)``).

    The rank-``k`` leverage score of column ``j`` is the norm of row ``j`` of ``V_k``, the top
    ``k`` right singular vectors of ``x``: how much of the best rank-``k`` subspace column ``j``
    carries (the official code ranks by the norm; its square, the textbook leverage score, gives
    the same order). When ``d < C`` the official code falls back to the filters' L1 norms.
    """
    d, c = x.shape
    if d < c:
        return x.abs().sum(0)
    # x = U S V^T, V: (C, C)
    _, _, v = torch.linalg.svd(x.double(), full_matrices=False)
    return v.t()[:, :k].norm(dim=1).to(x.dtype)


def regrow_probabilities(x: Tensor, selected: Tensor, candidates: Tensor) -> Tensor:
    """Sampling probabilities of the pruned channels ``candidates`` (official CHEX regrowing).

    Each candidate filter is projected onto the span of the ``selected`` (kept) filters; the
    norm of what is left (its orthogonal part, the information the kept channels miss) goes
    through a softmax.
    """
    base = x[:, selected]
    cand = x[:, candidates]
    # projection onto span(base): base (base^T base)^+ base^T
    proj = base @ torch.linalg.pinv(base.t() @ base) @ base.t()
    return torch.softmax((cand - proj @ cand).norm(dim=0), dim=0)


def allocate_channels(scores: Dict[str, Tensor], sparsity: float,
                      min_channels: int = 1) -> Dict[str, int]:
    """Channels kept per group under a global channel sparsity, ranking BN scaling factors.

    As the official code: the threshold is the ``int(total * sparsity)``-th smallest score over
    all groups and every channel at or below it is pruned; a group keeps at least
    ``min_channels`` (ours: the official code would let a layer lose every channel).
    """
    flat = torch.cat([s.flatten() for s in scores.values()])
    index = min(int(flat.numel() * sparsity), flat.numel() - 1)
    threshold = flat.sort().values[index]
    return {name: max(int((s > threshold).sum()), min_channels) for name, s in scores.items()}


@HOOKS.register_module()
class CHEXHook(Hook):
    """Prune and regrow channels during one training from scratch (CHEX).

    From "CHEX: CHannel EXploration for CNN Model Compression" (arXiv:2203.15794), following the
    official code (zejiangh/Filter-GaP, ``CLS/image_classification/prune_utils.py``). Training
    starts with ``channel_sparsity - init_channel_ratio`` of the channels of every group pruned
    (smallest filter L1 norms). At every ``interval``-th epoch (or iteration) ``t`` in
    ``[1, end]``, with the regrow ratio ``delta = init_channel_ratio * (1 + cos(pi t / end)) / 2``:

    1. *allocation*: the BN scaling factors of all groups are ranked globally; the channel
       counts at sparsity ``channel_sparsity`` (kept) and ``channel_sparsity - delta`` (kept +
       regrown) follow per group;
    2. *pruning*: in each group the kept channels are those with the largest rank-k leverage
       scores of the filter matrix (column subset selection, k = kept count);
    3. *regrowing*: the pruned channels get their most recently used weights back (those of the
       last update) and the regrown ones are sampled without replacement with probability
       softmax(norm of the filter's component orthogonal to the kept filters).

    After ``end`` the masks are fixed (``delta`` reached 0). Masks zero the filters and BN
    affine parameters of pruned channels after every optimizer step, so a pruned channel's
    output is exactly 0 and ``tools/model_converters/export_compressed.py`` slices it away. The
    masks and the most-recently-used weights travel in the checkpoint (``checkpoint['chex']``),
    so ``--resume`` continues the exploration.

    Args:
        channel_sparsity (float): Global fraction of the groups' channels pruned at the end, in
            (0, 1) (official ``--channel_sparsity``; 0.5 in its script, 0.7 in its README).
            Defaults to 0.5.
        init_channel_ratio (float): Initial regrow ratio ``delta_0`` in [0, channel_sparsity]
            (official ``--init_channel_ratio``: 0.2 / 0.3). Defaults to 0.2.
        interval (int): Epochs (or iterations) between prune-regrow steps (official
            ``--delta_T``). Defaults to 2.
        end (int): Last epoch (or iteration) of exploration (official ``--T_max``, 180 of 250
            epochs). Defaults to 180.
        by_epoch (bool): Whether ``interval`` and ``end`` count epochs. Defaults to True.
        prune_residual (bool): Also prune the residual streams (ours; the official code prunes
            the channels inside the blocks). Defaults to False.
        min_channels (int): Channels every group keeps at least (ours; a guard the official
            code lacks). Defaults to 1.
    """

    priority = 'LOW'  # after the optimizer step, before CheckpointHook

    def __init__(self,
                 channel_sparsity: float = 0.5,
                 init_channel_ratio: float = 0.2,
                 interval: int = 2,
                 end: int = 180,
                 by_epoch: bool = True,
                 prune_residual: bool = False,
                 min_channels: int = 1) -> None:
        if not 0 < channel_sparsity < 1:
            raise ValueError(f'"channel_sparsity" must be in (0, 1), got {channel_sparsity}')
        if not 0 <= init_channel_ratio <= channel_sparsity:
            raise ValueError(f'"init_channel_ratio" must be in [0, channel_sparsity='
                             f'{channel_sparsity}], got {init_channel_ratio}')
        for key, value, low in (('interval', interval, 1), ('end', end, 1),
                                ('min_channels', min_channels, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f'"{key}" must be an int >= {low}, got {value!r}')
        self.channel_sparsity = float(channel_sparsity)
        self.init_channel_ratio = float(init_channel_ratio)
        self.interval = interval
        self.end = end
        self.by_epoch = by_epoch
        self.prune_residual = prune_residual
        self.min_channels = min_channels
        self.groups: List[ChannelGroup] = []
        self.masks: Dict[str, Tensor] = {}
        self.mru: Dict[str, Tensor] = {}  # weights at the last update, restored on regrowing
        self.last_update = -1

    # ----- schedule -----
    def regrow_ratio(self, t: int) -> float:
        """``delta`` at epoch / iteration ``t``: cosine decay from ``init_channel_ratio``."""
        return self.init_channel_ratio * (1 + math.cos(math.pi * t / self.end)) / 2

    def is_update_step(self, t: int) -> bool:
        """Whether masks are updated before epoch / iteration ``t`` (official schedule)."""
        return 1 <= t <= self.end and t % self.interval == 0

    # ----- hook points -----
    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        horizon = runner.max_epochs if self.by_epoch else runner.max_iters
        if self.end > horizon:
            raise ValueError(f'CHEXHook: "end"={self.end} is beyond the training length '
                             f'{horizon}')
        self.groups = resnet_channel_groups(model, self.prune_residual)
        if not self.masks:  # not resumed
            self._init_masks(model)
        self._apply(model)
        self._log(runner)

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._maybe_update(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.by_epoch:
            self._maybe_update(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._apply(unwrap_model(runner.model))
        if not self.by_epoch:
            # the next iteration's masks now, so that a checkpoint of this one holds them
            self._maybe_update(runner, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._maybe_update(runner, runner.epoch + 1)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['chex'] = dict(masks=self.masks, mru=self.mru, last_update=self.last_update)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('chex')
        if state is not None:
            self.masks = dict(state['masks'])
            self.mru = dict(state['mru'])
            self.last_update = state['last_update']

    # ----- steps -----
    def _params(self, model) -> Dict[str, Tensor]:
        """Every tensor a channel mask touches, by state-dict key."""
        out = {}
        for g in self.groups:
            for conv, bn in g.producers:
                out.update({f'{conv}.{k}': v for k, v in
                            model.get_submodule(conv).state_dict(keep_vars=True).items()})
                out.update({f'{bn}.{k}': v for k, v in
                            model.get_submodule(bn).state_dict(keep_vars=True).items()
                            if k != 'num_batches_tracked'})
            for name in g.consumers:
                out[f'{name}.weight'] = model.get_submodule(name).weight
        return out

    @torch.no_grad()
    def _snapshot(self, model) -> None:
        self.mru = {k: v.detach().clone() for k, v in self._params(model).items()}

    @torch.no_grad()
    def _restore_mru(self, model) -> None:
        """Put back the last-update values of the currently pruned channels."""
        params = self._params(model)
        device = next(model.parameters()).device
        for g in self.groups:
            off = ~self.masks[g.name].to(device)
            for conv, bn in g.producers:
                for key in [k for k in params if k.startswith((f'{conv}.', f'{bn}.'))]:
                    params[key][off] = self.mru[key][off]
            for name in g.consumers:
                key = f'{name}.weight'
                params[key][:, off] = self.mru[key][:, off]

    @torch.no_grad()
    def _init_masks(self, model) -> None:
        ratio = self.channel_sparsity - self.init_channel_ratio
        for g in self.groups:
            keep = max(math.floor(g.size * (1 - ratio) + 1e-9), self.min_channels)
            l1 = group_weight_matrix(model, g).abs().sum(0)
            mask = torch.zeros(g.size, dtype=torch.bool)
            mask[l1.topk(keep).indices.cpu()] = True
            self.masks[g.name] = mask
        self._snapshot(model)

    def _bn_scores(self, model) -> Dict[str, Tensor]:
        """|gamma| per channel of each group (mean over its BNs when it has several)."""
        return {g.name: torch.stack([model.get_submodule(bn).weight.detach().abs().cpu()
                                     for _, bn in g.producers]).mean(0)
                for g in self.groups}

    @torch.no_grad()
    def update(self, model, t: int) -> Dict[str, Dict[str, int]]:
        """One prune-regrow step at epoch / iteration ``t``; returns the channel counts."""
        delta = self.regrow_ratio(t)
        scores = self._bn_scores(model)
        keep = allocate_channels(scores, self.channel_sparsity, self.min_channels)
        grow = allocate_channels(scores, self.channel_sparsity - delta, self.min_channels)
        # CSS on the current (masked) filters: pruned channels have zero leverage
        selected = {}
        for g in self.groups:
            css = leverage_scores(group_weight_matrix(model, g).cpu(), keep[g.name])
            selected[g.name] = css.topk(keep[g.name]).indices
        self._restore_mru(model)
        counts = {}
        for g in self.groups:
            sel = selected[g.name]
            mask = torch.zeros(g.size, dtype=torch.bool)
            mask[sel] = True
            free = (~mask).nonzero().flatten()
            n_free = min(max(grow[g.name] - keep[g.name], 0), free.numel())
            if n_free > 0:
                probs = regrow_probabilities(group_weight_matrix(model, g).cpu(), sel, free)
                mask[free[torch.multinomial(probs, n_free, replacement=False)]] = True
            self.masks[g.name] = mask
            counts[g.name] = dict(kept=int(sel.numel()), regrown=n_free)
        # the most recently used values: after restoring, before masking (official)
        self._snapshot(model)
        self._apply(model)
        self.last_update = t
        return counts

    def _maybe_update(self, runner, t: int) -> None:
        if self.is_update_step(t) and t != self.last_update:
            self.update(unwrap_model(runner.model), t)
            self._log(runner)

    @torch.no_grad()
    def _apply(self, model) -> None:
        apply_channel_masks(model, self.groups, self.masks)

    def _log(self, runner) -> None:
        total = sum(g.size for g in self.groups)
        alive = sum(int(self.masks[g.name].sum()) for g in self.groups)
        runner.message_hub.update_scalar('train/chex_channel_ratio', alive / total)

    def channel_counts(self) -> Dict[str, int]:
        """Channels currently alive per group."""
        return {g.name: int(self.masks[g.name].sum()) for g in self.groups}
