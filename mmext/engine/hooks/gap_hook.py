"""Scheduled grow-and-prune sparsification (GaP, arXiv:2106.09857)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.hooks import Hook

from mmext.models.layers.compression_utils import match_layers, unwrap_model
from mmext.registry import HOOKS

__all__ = ['GaPHook', 'magnitude_mask', 'random_mask']


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep the ``1 - sparsity`` largest-magnitude entries of ``weight`` (exact count)."""
    numel = weight.numel()
    keep = numel - int(round(sparsity * numel))
    mask = torch.zeros(numel, dtype=torch.bool, device=weight.device)
    if keep > 0:
        mask[weight.detach().abs().flatten().topk(keep).indices] = True
    return mask.view_as(weight)


def random_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep ``int(numel * (1 - sparsity))`` entries of ``weight`` chosen uniformly at random (the
    official GaP initial mask), drawn from the global torch generator."""
    numel = weight.numel()
    keep = int(numel * (1 - sparsity))
    mask = torch.zeros(numel, dtype=torch.bool, device=weight.device)
    mask[torch.randperm(numel)[:keep].to(weight.device)] = True
    return mask.view_as(weight)


@HOOKS.register_module()
class GaPHook(Hook):
    """Sequential scheduled grow-and-prune (S-GaP) on layer partitions chosen by name patterns.

    From "Effective Model Sparsification by Scheduled Grow-and-Prune Methods"
    (arXiv:2106.09857). The conv / linear layers named by ``partitions`` are split into P
    groups. Training starts sparse; every ``interval`` epochs one partition, in cyclic order, is
    grown to dense (its masked weights restart from 0) while the others stay sparse; when its
    turn ends it is pruned back to ``sparsity`` by weight magnitude. From ``end`` on every
    partition is sparse and the masks are fixed (fine-tuning). Masks are re-applied after every
    optimizer step, so pruned weights are exactly zero in the trained checkpoint and the host
    model needs no change. The sparse partitions start from random masks, as in the official
    code (boone891214/GaP, ``--retrain-mask-pattern=random``: ``int(numel * (1 - sparsity))``
    weights kept per layer, uniformly at random); ``init_mask='magnitude'`` starts from the
    largest-magnitude weights of the initial model instead (our variant, not official: at a
    random initialisation it is another random mask, biased towards larger initial weights).

    Args:
        partitions (list[str | list[str]]): One entry per partition: regular expressions
            (``re.fullmatch``) on module names, e.g. ``[r'backbone\\.layer1\\..*', ...]``. A
            pattern that matches no conv / linear layer is an error.
        sparsity (float | list[float]): Target fraction of zero weights per layer, in [0, 1),
            for all partitions or one per partition. Defaults to 0.8 (paper).
        interval (int): Epochs (or iterations) per grow-and-prune step. Defaults to 1.
        end (int, optional): Epoch (or iteration) after which every partition stays pruned;
            None ends GaP one ``interval`` before the end of training. Defaults to None.
        by_epoch (bool): Whether ``interval`` and ``end`` count epochs. Defaults to True.
        init_mask (str): Initial mask of the sparse partitions, ``'random'`` (official) or
            ``'magnitude'``. Defaults to ``'random'``.
    """

    priority = 'LOW'  # after the optimizer step of the train loop

    def __init__(self,
                 partitions: Sequence[Union[str, Sequence[str]]],
                 sparsity: Union[float, Sequence[float]] = 0.8,
                 interval: int = 1,
                 end: Optional[int] = None,
                 by_epoch: bool = True,
                 init_mask: str = 'random') -> None:
        if init_mask not in ('random', 'magnitude'):
            raise ValueError(f'"init_mask" must be \'random\' or \'magnitude\', got {init_mask!r}')
        if not partitions:
            raise ValueError('"partitions" must list at least one partition of layer patterns')
        self.partitions = [[p] if isinstance(p, str) else list(p) for p in partitions]
        sp = [sparsity] * len(self.partitions) if isinstance(sparsity, (int, float)) \
            else list(sparsity)
        if len(sp) != len(self.partitions):
            raise ValueError(f'"sparsity" has {len(sp)} values for {len(self.partitions)} '
                             f'partitions')
        for s in sp:
            if not 0 <= s < 1:
                raise ValueError(f'"sparsity" must be in [0, 1), got {s}')
        if interval < 1:
            raise ValueError(f'"interval" must be >= 1, got {interval}')
        self.sparsity = [float(s) for s in sp]
        self.interval = interval
        self.end = end
        self.by_epoch = by_epoch
        self.init_mask = init_mask
        self.layers: List[Dict[str, nn.Module]] = []
        self.masks: Dict[str, Optional[torch.Tensor]] = {}
        self.dense: Optional[int] = -1  # -1: not synchronised yet

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        self.layers, seen = [], {}
        for i, patterns in enumerate(self.partitions):
            layers = match_layers(model, patterns, key=f'partitions[{i}]')
            for name in layers:
                if name in seen:
                    raise ValueError(f'"partitions": layer {name!r} is in partitions '
                                     f'{seen[name]} and {i}')
                seen[name] = i
            self.layers.append(layers)
        horizon = runner.max_epochs if self.by_epoch else runner.max_iters
        if self.end is None:
            self.end = max(horizon - self.interval, 0)
        if self.end > horizon:
            raise ValueError(f'GaPHook: "end"={self.end} is beyond the training length {horizon}')
        self._sync(runner, runner.epoch if self.by_epoch else runner.iter)

    def dense_partition(self, t: int) -> Optional[int]:
        """Index of the partition that is dense at epoch / iteration ``t`` (None: all sparse)."""
        if t >= self.end:
            return None
        return (t // self.interval) % len(self.layers)

    @torch.no_grad()
    def _sync(self, runner, t: int) -> None:
        dense = self.dense_partition(t)
        if dense == self.dense:
            return
        for i, layers in enumerate(self.layers):
            for name, layer in layers.items():
                if i == dense:
                    self.masks[name] = None  # grow: every weight trains again
                elif self.dense == i:
                    # prune: the partition leaving its dense turn
                    self.masks[name] = magnitude_mask(layer.weight, self.sparsity[i])
                elif self.masks.get(name) is None:
                    # not masked yet: the initial mask
                    init = random_mask if self.init_mask == 'random' else magnitude_mask
                    self.masks[name] = init(layer.weight, self.sparsity[i])
        self.dense = dense
        self._apply()
        runner.message_hub.update_scalar('train/gap_dense_partition',
                                         -1 if dense is None else dense)

    @torch.no_grad()
    def _apply(self) -> None:
        for layers in self.layers:
            for name, layer in layers.items():
                mask = self.masks.get(name)
                if mask is not None:
                    layer.weight.mul_(mask)

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._sync(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.by_epoch:
            self._sync(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._apply()
        if not self.by_epoch:
            # move to the next state now, before CheckpointHook saves this iteration
            self._sync(runner, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch:
            # prune / grow for the next epoch before CheckpointHook (lower priority) saves
            self._sync(runner, runner.epoch + 1)

    def after_train(self, runner) -> None:
        # the trained model must be what the config claims: prune anything still dense
        self._sync(runner, self.end)

    def sparsity_report(self) -> Dict[str, float]:
        """Measured fraction of zero weights per partitioned layer."""
        return {n: float((l.weight == 0).float().mean())
                for layers in self.layers for n, l in layers.items()}
