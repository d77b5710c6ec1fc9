"""MAE-DET entropy score of any backbone config (training-free proxy for detection backbones).

    python tools/analysis/maedet_score.py CONFIG [--shape H W] [--in-channels C]
        [--batch-size 32] [--repeat 4] [--stage-weights 0 0 1 1 6] [--init-std 1]
        [--keep-bn] [--keep-relu] [--analytic] [--as-built] [--seed 0] [--cfg-options ...]

From "MAE-DET: Revisiting Maximum Entropy Principle in Zero-Shot NAS for Efficient Object
Detection" (Sun et al., arXiv:2111.13336). A network with N(0, s^2) weights maps Gaussian
images to feature maps whose entropy (that of a Gaussian of their standard deviation, up to a
constant) measures its expressivity; MAE-DET sums it over the multi-scale maps an FPN reads:

    score = sum_i w_i * ( log C_i + sum_{convs l before the end of stage i} log sigma_l ),

where stage i ends at the unit before a downsampling one (and at the last unit), C_i is its
width, w_i its weight (official ``multi_block_ratio`` ``[0, 0, 1, 1, 6]`` for the maps at
strides 2..32) and sigma_l the standard deviation of conv l's output over the whole batch, each
conv's output being rescaled to unit deviation before the next (the official entropy forward).

Official setting (alibaba/lightweight-neural-architecture-search, ``compute_entropy.py`` of the
MAE-DET release, the default here): the *plain* network (residual links removed), BN and ReLU
skipped (``score_skip_bn`` / ``score_skip_relu``), weights and inputs N(0, 1), batch 32, 4
repeats averaged, image size 480 for detection. ``--analytic`` uses the closed form of the
later official ``madnas`` score instead: sigma_l = s * sqrt(fan-in of conv l), the expectation
of the same deviation without the zero-padding borders (no forward statistics, deterministic).
"""
import copy
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmext  # noqa: F401
from mmext.utils import load_config
from mmext.utils.zero_shot_nas import (backbone_units, gaussian_init_, score_arg_parser,
                                       scoring_setup)

OFFICIAL_STAGE_WEIGHTS = (0, 0, 1, 1, 6)
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.Hardswish, nn.ELU)


def _replace(model: nn.Module, types: tuple) -> None:
    """Replace every submodule of one of ``types`` by an identity (in place)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, types):
                setattr(parent, name, nn.Identity())


def maedet_score(model: nn.Module,
                 input_shape: Sequence[int],
                 batch_size: int = 32,
                 repeat: int = 4,
                 stage_weights: Sequence[float] = OFFICIAL_STAGE_WEIGHTS,
                 init_std: float = 1.0,
                 skip_bn: bool = True,
                 skip_relu: bool = True,
                 analytic: bool = False,
                 init: bool = True,
                 generator: Optional[torch.Generator] = None,
                 inputs: Optional[torch.Tensor] = None) -> Dict:
    """MAE-DET entropy score of ``model`` (a backbone of a layout
    :func:`mmext.utils.zero_shot_nas.backbone_units` knows), scored as passed: call
    :func:`mmext.utils.zero_shot_nas.plain_network` first for the official plain network.

    Args:
        model (nn.Module): The backbone; scored on a copy (its weights stay untouched).
        input_shape (Sequence[int]): ``(C, H, W)`` of one input.
        batch_size (int): Gaussian images per repeat. Defaults to 32.
        repeat (int): Initialisations averaged. Defaults to 4.
        stage_weights (Sequence[float]): Weight of each stage's entropy, one per stage
            (resolution level), first to last. Defaults to ``(0, 0, 1, 1, 6)``.
        init_std (float): Deviation of the Gaussian weights and inputs. Defaults to 1.0.
        skip_bn (bool): Remove the norm layers (official). Defaults to True.
        skip_relu (bool): Remove the activations (official). Defaults to True.
        analytic (bool): Use ``init_std * sqrt(fan_in)`` for each conv's deviation instead of
            the measured one (the later official ``madnas`` score). Defaults to False.
        init (bool): Draw Gaussian weights; False keeps the model's weights (for tests).
            Defaults to True.
        generator (torch.Generator, optional): Random source. Defaults to None.
        inputs (torch.Tensor, optional): Fixed input batch instead of Gaussian ones (for
            tests). Defaults to None.

    Returns:
        dict: ``maedet_score`` (mean over repeats), ``std``, ``scores`` (one per repeat),
        ``stage_scores`` (mean per-stage entropies, unweighted) and ``stage_channels``.
    """
    if repeat < 1:
        raise ValueError(f'"repeat" must be >= 1, got {repeat}')
    if batch_size < 1:
        raise ValueError(f'"batch_size" must be >= 1, got {batch_size}')
    model = copy.deepcopy(model)
    if skip_bn:
        _replace(model, (_BatchNorm, nn.GroupNorm, nn.LayerNorm))
    if skip_relu:
        _replace(model, _ACTIVATIONS)
    units = backbone_units(model)
    # the conv deviations accumulated so far, and (log-deviation sum, channels, size) per unit
    state = dict(log_std=0.0)
    unit_records: List[tuple] = []

    def conv_hook(mod, args, out):
        if analytic:
            fan_in = mod.in_channels // mod.groups * math.prod(mod.kernel_size)
            state['log_std'] += math.log(init_std) + 0.5 * math.log(fan_in)
            return out
        std = out.float().std()
        state['log_std'] += math.log(std.item())
        return out / std

    def unit_hook(mod, args, out):
        unit_records.append((state['log_std'], out.shape[1], tuple(out.shape[-2:])))

    handles = [m.register_forward_hook(conv_hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    handles += [u.register_forward_hook(unit_hook) for u in units]
    model.eval()  # no dropout; BN (if kept) normalises with running statistics reset below
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.train()
    device = next(model.parameters()).device
    scores, stage_sums, channels = [], None, None
    try:
        with torch.no_grad():
            for _ in range(1 if analytic else repeat):
                if init:
                    gaussian_init_(model, init_std, generator)
                x = inputs if inputs is not None else init_std * torch.randn(
                    (1 if analytic else batch_size), *input_shape, generator=generator)
                state['log_std'] = 0.0
                unit_records.clear()
                model(x.to(device))
                # a stage ends where the next unit downsamples, and at the last unit
                ends = [r for r, nxt in zip(unit_records, unit_records[1:] + [None])
                        if nxt is None or nxt[2] != r[2]]
                if len(ends) != len(stage_weights):
                    raise ValueError(
                        f'"stage_weights" has {len(stage_weights)} values but the backbone has '
                        f'{len(ends)} stages (resolution levels) at input {tuple(input_shape)}: '
                        f'sizes {[r[2] for r in ends]}')
                stage = [log_std + math.log(c) for log_std, c, _ in ends]
                channels = [c for _, c, _ in ends]
                scores.append(sum(w * s for w, s in zip(stage_weights, stage)))
                stage_sums = stage if stage_sums is None else [
                    a + b for a, b in zip(stage_sums, stage)]
    finally:
        for h in handles:
            h.remove()
    mean = sum(scores) / len(scores)
    std = (sum((s - mean)**2 for s in scores) / len(scores))**0.5
    return dict(maedet_score=mean, std=std, scores=scores,
                stage_scores=[s / len(scores) for s in stage_sums], stage_channels=channels)


def main(argv=None) -> Dict:
    parser = score_arg_parser('MAE-DET entropy score of a config backbone', 480, 32, 4)
    parser.add_argument('--stage-weights', type=float, nargs='+',
                        default=list(OFFICIAL_STAGE_WEIGHTS),
                        help='weight of each stage entropy (official: 0 0 1 1 6)')
    parser.add_argument('--init-std', type=float, default=1.0)
    parser.add_argument('--keep-bn', action='store_true', help='keep norm layers (not official)')
    parser.add_argument('--keep-relu', action='store_true',
                        help='keep activations (not official)')
    parser.add_argument('--analytic', action='store_true',
                        help='closed-form conv deviations (later official madnas score)')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model, shape, gen, n = scoring_setup(cfg, args.shape, args.in_channels, args.seed,
                                         args.as_built)
    result = maedet_score(model, shape, args.batch_size, args.repeat,
                          args.stage_weights, args.init_std, not args.keep_bn,
                          not args.keep_relu, args.analytic, generator=gen)
    stages = ', '.join(f'{s:.1f}' for s in result['stage_scores'])
    print('| config | input | backbone params | MAE-DET score (mean +- std) | stage entropies |\n'
          '| --- | --- | --- | --- | --- |\n'
          f'| {args.config} | {"x".join(map(str, shape))} | {n / 1e6:.2f} M | '
          f'{result["maedet_score"]:.2f} +- {result["std"]:.2f} | {stages} |')
    return result


if __name__ == '__main__':
    main()
