"""Zen-score of any backbone config (training-free expressivity proxy of Zen-NAS).

    python tools/analysis/zen_score.py CONFIG [--shape H W] [--in-channels C]
        [--batch-size 16] [--repeat 32] [--mixup-gamma 1e-2] [--seed 0]
        [--as-built] [--bn-variance {running,batch}] [--cfg-options ...]

From "Zen-NAS: A Zero-Shot NAS for High-Performance Deep Image Recognition" (Lin et al.,
arXiv:2102.01063). With all weights drawn from N(0, 1) (norm layers reset to identity affine),
for Gaussian images x and perturbation eps,

    Zen = log E_x || f(x) - f(x + gamma * eps) ||_1  +  sum_i log sigma_i,

where f is the backbone's last pre-pooling feature map and sigma_i undoes the re-scaling of the
i-th BatchNorm: the square root of its per-channel variances averaged over channels.

Official setting (idstcv/ZenNAS, the default here):
* the score is that of the *plain* network: residual links and squeeze-excitation removed
  (the search builds candidates with ``no_reslink=True`` and without SE). This tool knows how to
  strip :class:`mmext.ZenResUnit` (ZenNet, MAE-DET), :class:`mmext.GEResLayer` and ResNet
  blocks (kept: branch + ReLU) and ZenNet's SE gates; other backbones are scored as built, with
  a warning. ``--as-built`` scores every network as built.
* sigma_i is read from BN ``running_var`` after the two forwards (momentum 0.1 blend of the
  unbiased batch variances onto the initial 1, carried over from one repeat to the next, as the
  official loop does not reset it). ``--bn-variance batch`` uses the biased batch variance of
  the forward on x instead (the paper's wording; not the official arithmetic).
The official search scores each candidate once (``repeat=1``, batch 64); its stand-alone script
defaults to ``repeat=32``, batch 16, the defaults here.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmext  # noqa: F401
from mmext.utils import load_config
# shared with maedet_score.py / nas_search.py; re-exported as this tool's functions
from mmext.utils.zero_shot_nas import (build_backbone, gaussian_init_,  # noqa: F401
                                       last_output, plain_network, score_arg_parser,
                                       scoring_setup)


def zen_score(model: nn.Module,
              input_shape: Sequence[int],
              batch_size: int = 16,
              repeat: int = 32,
              mixup_gamma: float = 1e-2,
              generator: Optional[torch.Generator] = None,
              bn_variance: str = 'running') -> Dict[str, float]:
    """Zen-score of ``model`` (a backbone returning a feature map or a tuple of them), scored as
    passed (see :func:`plain_network` for the official plain network).

    Args:
        model (nn.Module): The network; its weights are overwritten.
        input_shape (Sequence[int]): ``(C, H, W)`` of one input.
        batch_size (int): Gaussian images per repeat. Defaults to 16.
        repeat (int): Random initialisations averaged. Defaults to 32.
        mixup_gamma (float): Perturbation scale gamma. Defaults to 1e-2.
        generator (torch.Generator, optional): Random source. Defaults to None.
        bn_variance (str): ``'running'`` (official: BN running variances after the two
            forwards, running statistics reset once before the first repeat) or ``'batch'``
            (biased batch variances of the forward on x). Defaults to ``'running'``.

    Returns:
        dict: ``zen_score`` (mean), ``std`` and ``scores`` (one per repeat).
    """
    if batch_size < 2:
        raise ValueError(f'"batch_size" must be >= 2 (BN batch statistics), got {batch_size}')
    if repeat < 1:
        raise ValueError(f'"repeat" must be >= 1, got {repeat}')
    if bn_variance not in ('running', 'batch'):
        raise ValueError(f'"bn_variance" must be \'running\' or \'batch\', got {bn_variance!r}')
    device = next(model.parameters()).device
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if bn_variance == 'running':
        if any(m.running_var is None for m in bns):
            raise ValueError('bn_variance="running" needs BN layers that track running stats')
        # the official score is taken on a freshly built network: running_var starts at 1
        for m in bns:
            m.reset_running_stats()
    bn_vars: List[torch.Tensor] = []

    def hook(mod, inputs, output):
        x = inputs[0]
        dims = [d for d in range(x.dim()) if d != 1]
        # biased batch variance per channel, as BN normalises with
        bn_vars.append(x.detach().float().var(dim=dims, unbiased=False).mean())

    handles = [m.register_forward_hook(hook) for m in bns] if bn_variance == 'batch' else []
    # train mode: BN normalises with batch statistics, which the correction undoes
    was_training = model.training
    model.train()
    # ... but no dropout / drop path: f(x) and f(x + gamma * eps) must be the same function
    for m in model.modules():
        if 'drop' in type(m).__name__.lower():
            m.eval()
    scores = []
    try:
        with torch.no_grad():
            for _ in range(repeat):
                gaussian_init_(model)
                x = torch.randn(batch_size, *input_shape, generator=generator).to(device)
                eps = torch.randn(batch_size, *input_shape, generator=generator).to(device)
                bn_vars.clear()
                out = last_output(model(x)).float()
                variances = list(bn_vars)  # batch mode: those of the forward on x
                out2 = last_output(model(x + mixup_gamma * eps)).float()
                if bn_variance == 'running':
                    variances = [m.running_var.float().mean() for m in bns]
                log_sigma = sum(0.5 * torch.log(v).item() for v in variances)
                delta = (out - out2).abs().flatten(1).sum(1).mean().item()
                scores.append(math.log(delta) + log_sigma)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    mean = sum(scores) / len(scores)
    std = (sum((s - mean)**2 for s in scores) / len(scores))**0.5
    return dict(zen_score=mean, std=std, scores=scores)


def main(argv=None) -> Dict[str, float]:
    parser = score_arg_parser('Zen-score (Zen-NAS) of a config backbone', 224, 16, 32)
    parser.add_argument('--mixup-gamma', type=float, default=1e-2)
    parser.add_argument('--bn-variance', choices=['running', 'batch'], default='running',
                        help='BN correction from running variances (official) or batch ones')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model, shape, gen, _ = scoring_setup(cfg, args.shape, args.in_channels, args.seed,
                                         args.as_built)
    result = zen_score(model, shape, args.batch_size, args.repeat,
                       args.mixup_gamma, gen, args.bn_variance)
    n = sum(p.numel() for p in model.parameters())
    print('| config | input | backbone params | Zen-score (mean +- std) |\n'
          '| --- | --- | --- | --- |\n'
          f'| {args.config} | {"x".join(map(str, shape))} | {n / 1e6:.2f} M | '
          f'{result["zen_score"]:.2f} +- {result["std"]:.2f} |')
    return result


if __name__ == '__main__':
    main()
