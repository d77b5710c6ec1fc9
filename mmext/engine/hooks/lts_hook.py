"""Lottery Ticket Scratcher: freeze quantized weights that settled (arXiv:2211.08544)."""
import math
from typing import Dict

import torch
from mmengine.hooks import Hook

from mmext.models.layers.compression_utils import compressed_layers
from mmext.models.layers.lts import _LSQMixin
from mmext.registry import HOOKS

__all__ = ['LTSHook']

_MODES = ('linear-growth', 'sine-growth', 'fixing')


@HOOKS.register_module()
class LTSHook(Hook):
    """Freeze each LSQ-quantized weight once it stays close to its quantization level.

    From "Exploiting the Partly Scratch-off Lottery Ticket for Quantization-Aware Training"
    (arXiv:2211.08544). For every weight of every :class:`mmext.LSQConv2d` /
    :class:`mmext.LSQLinear`, an exponential moving average of its distance to its quantization
    level (in units of the step size) is kept; a change of level resets the distance to one full
    step. After ``warmup``, a weight whose distance falls below the threshold ``rate`` is frozen
    for the rest of training: it keeps its value and its gradient is no longer needed. ``rate``
    grows from 0 to 1 step (``'linear-growth'``, the official setting, or ``'sine-growth'``) or
    is constant (``'fixing'``). The hook logs the fraction frozen now (``train/lts_frozen``) and,
    summed over the run so far as the paper reports them, the fraction of weight updates skipped
    (``train/lts_updates_saved``) and of backward-pass FLOPs of the quantized layers saved
    (``train/lts_bwd_saved``: a frozen weight skips its share of the weight-gradient GEMM, half
    of a layer's backward FLOPs).

    Args:
        warmup (int): Epochs (``by_epoch=True``) or iterations before freezing starts.
            Defaults to 20 (official ImageNet script: 20 of 100 epochs).
        distance_ema (float): EMA momentum of the distance, in [0, 1). Defaults to 0.99
            (official CIFAR setting; 0.9999 on ImageNet).
        mode (str): ``'linear-growth'``, ``'sine-growth'`` or ``'fixing'``.
            Defaults to ``'linear-growth'``.
        fixed_rate (float): Threshold, in steps, of the ``'fixing'`` mode, in (0, 1].
            Defaults to 0.1 (official).
        by_epoch (bool): Whether ``warmup`` counts epochs. Defaults to True.
    """

    priority = 'LOW'  # after the optimizer step of the train loop

    def __init__(self, warmup: int = 20, distance_ema: float = 0.99,
                 mode: str = 'linear-growth', fixed_rate: float = 0.1,
                 by_epoch: bool = True) -> None:
        if warmup < 0:
            raise ValueError(f'"warmup" must be >= 0, got {warmup}')
        if not 0 <= distance_ema < 1:
            raise ValueError(f'"distance_ema" must be in [0, 1), got {distance_ema}')
        if mode not in _MODES:
            raise ValueError(f'"mode" must be one of {_MODES}, got {mode!r}')
        if not 0 < fixed_rate <= 1:
            raise ValueError(f'"fixed_rate" must be in (0, 1], got {fixed_rate}')
        self.warmup = warmup
        self.distance_ema = distance_ema
        self.mode = mode
        self.fixed_rate = fixed_rate
        self.by_epoch = by_epoch
        self.state: Dict[str, Dict[str, torch.Tensor]] = {}
        # frozen weights, all weights, saved and total backward MACs, summed over iterations
        self.totals = torch.zeros(4, dtype=torch.float64)

    def _layers(self, runner):
        return compressed_layers(runner.model, _LSQMixin)

    def before_train(self, runner) -> None:
        layers = self._layers(runner)
        if not layers:
            raise ValueError('LTSHook: the model has no mmext.LSQConv2d / mmext.LSQLinear layer')
        iters_per_epoch = len(runner.train_dataloader) if self.by_epoch else 1
        self.warmup_iters = self.warmup * iters_per_epoch
        self.total_iters = runner.max_iters
        if self.warmup_iters >= self.total_iters:
            raise ValueError(f'LTSHook: "warmup" ({self.warmup_iters} iters) must end before '
                             f'training does ({self.total_iters} iters)')
        for name, layer in layers.items():
            st = self.state.setdefault(name, {})
            st['snapshot'] = layer.weight.detach().clone()

    def rate(self, it: int) -> float:
        """Freezing threshold (in quantization steps) at iteration ``it``."""
        if it < self.warmup_iters:
            return 0.0
        if self.mode == 'fixing':
            return self.fixed_rate
        p = (it - self.warmup_iters) / max(self.total_iters - self.warmup_iters, 1)
        p = min(p, 1.0)
        return p if self.mode == 'linear-growth' else math.sin(p * math.pi / 2)

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        rate = self.rate(runner.iter)
        n_frozen = n_total = 0
        saved = total = 0.0
        for name, layer in self._layers(runner).items():
            st = self.state[name]
            w = layer.weight
            # weight decay / momentum may still have moved frozen weights: put them back
            w.copy_(torch.where(layer.frozen, st['snapshot'], w))
            st['snapshot'] = w.detach().clone()
            qmin, qmax = layer.weight_range
            v = w / (layer.weight_step.abs() + 1e-8)
            level = v.round().clamp(qmin, qmax)
            dist = (v - level).abs()
            if 'distance' not in st:
                st['distance'] = dist
            else:
                d = self.distance_ema * st['distance'] + (1 - self.distance_ema) * dist
                # a weight that just changed level is as far from settled as it can be
                st['distance'] = torch.where(level != st['level'], torch.ones_like(d), d)
            st['level'] = level
            if rate > 0:
                layer.frozen |= st['distance'] <= rate
            f = float(layer.frozen.float().mean())
            n_frozen += int(layer.frozen.sum())
            n_total += layer.frozen.numel()
            macs = float(getattr(layer, 'macs', layer.weight.numel()))
            saved += f * macs
            total += 2 * macs
        # the paper's figures are totals over the run: skipped updates / all updates
        self.totals += torch.tensor([n_frozen, n_total, saved, total], dtype=torch.float64)
        hub = runner.message_hub
        hub.update_scalar('train/lts_frozen', n_frozen / max(n_total, 1))
        hub.update_scalar('train/lts_updates_saved', float(self.totals[0] / self.totals[1]))
        hub.update_scalar('train/lts_bwd_saved', float(self.totals[2] / self.totals[3]))

    def summary(self, model) -> Dict[str, float]:
        """Frozen fraction and backward FLOPs saved for ``model`` (e.g. after training)."""
        layers = compressed_layers(model, _LSQMixin)
        n_frozen = sum(int(m.frozen.sum()) for m in layers.values())
        n_total = sum(m.frozen.numel() for m in layers.values())
        saved = sum(float(m.frozen.float().mean()) * getattr(m, 'macs', m.weight.numel())
                    for m in layers.values())
        total = sum(2 * getattr(m, 'macs', m.weight.numel()) for m in layers.values())
        return dict(frozen=n_frozen / max(n_total, 1), bwd_saved=saved / max(total, 1e-12))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['lts_state'] = {
            n: {k: v for k, v in st.items() if k in ('distance', 'level')}
            for n, st in self.state.items()
        }
        checkpoint['lts_totals'] = self.totals.clone()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for name, st in checkpoint.get('lts_state', {}).items():
            self.state.setdefault(name, {}).update(st)
        if 'lts_totals' in checkpoint:
            self.totals = checkpoint['lts_totals'].clone()
