"""SGD for the network, Adam for flagged parameter groups (quantizer parameters of LTS)."""
import math
from typing import Callable, Iterable, Optional, Tuple

import torch
from torch.optim import Optimizer

from mmext.registry import OPTIMIZERS

__all__ = ['SGDAdam']


@OPTIMIZERS.register_module()
class SGDAdam(Optimizer):
    """SGD (momentum, Nesterov, L2 weight decay) with Adam for the groups that set ``adam=True``.

    The official code of "Exploiting the Partly Scratch-off Lottery Ticket for Quantization-Aware
    Training" (arXiv:2211.08544, zysxmu/LTS) trains the network weights with SGD and the
    quantizer parameters with a second optimizer, Adam at lr 1e-4 without weight decay, both
    driven by the same learning-rate schedule. mmengine runs one optimizer per model, so this
    one holds both: groups flagged with ``adam=True`` (set through
    ``paramwise_cfg.custom_keys``, e.g. ``{'weight_step': dict(lr_mult=1e-3, decay_mult=0.,
    adam=True)}``) take the update of ``torch.optim.Adam``, the others that of
    ``torch.optim.SGD`` (no dampening). Parameter schedulers scale every group's ``lr`` alike.

    Args:
        params (iterable): Parameters or parameter groups.
        lr (float): Learning rate of the SGD groups (Adam groups set theirs with ``lr_mult``).
        momentum (float): SGD momentum. Defaults to 0.
        weight_decay (float): L2 weight decay added to the gradient (both kinds of groups).
            Defaults to 0.
        nesterov (bool): Nesterov momentum for the SGD groups. Defaults to False.
        betas (tuple[float, float]): Adam moment coefficients. Defaults to (0.9, 0.999).
        eps (float): Adam denominator term. Defaults to 1e-8.
    """

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 momentum: float = 0.,
                 weight_decay: float = 0.,
                 nesterov: bool = False,
                 betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if lr < 0:
            raise ValueError(f'"lr" must be >= 0, got {lr}')
        if momentum < 0:
            raise ValueError(f'"momentum" must be >= 0, got {momentum}')
        if nesterov and momentum <= 0:
            raise ValueError('"nesterov" needs "momentum" > 0')
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f'"betas" must lie in [0, 1), got {betas}')
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov, betas=tuple(betas), eps=eps,
                                      adam=False))

    @torch.no_grad()
    def step(self, closure: Optional[Callable] = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad
                if group['weight_decay']:
                    grad = grad.add(p, alpha=group['weight_decay'])
                if group['adam']:
                    self._adam(p, grad, group)
                else:
                    self._sgd(p, grad, group)
        return loss

    def _sgd(self, p: torch.Tensor, grad: torch.Tensor, group: dict) -> None:
        momentum = group['momentum']
        if momentum:
            state = self.state[p]
            buf = state.get('momentum_buffer')
            if buf is None:
                buf = state['momentum_buffer'] = grad.clone()
            else:
                buf.mul_(momentum).add_(grad)
            grad = grad.add(buf, alpha=momentum) if group['nesterov'] else buf
        p.add_(grad, alpha=-group['lr'])

    def _adam(self, p: torch.Tensor, grad: torch.Tensor, group: dict) -> None:
        beta1, beta2 = group['betas']
        state = self.state[p]
        if not state:
            state['step'] = 0
            state['exp_avg'] = torch.zeros_like(p)
            state['exp_avg_sq'] = torch.zeros_like(p)
        state['step'] += 1
        t = state['step']
        state['exp_avg'].mul_(beta1).add_(grad, alpha=1 - beta1)
        state['exp_avg_sq'].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (state['exp_avg_sq'].sqrt() / math.sqrt(1 - beta2**t)).add_(group['eps'])
        p.addcdiv_(state['exp_avg'], denom, value=-group['lr'] / (1 - beta1**t))
