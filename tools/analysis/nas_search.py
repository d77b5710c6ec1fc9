"""Evolutionary zero-shot architecture search for the mmext NAS backbones (MAE-DET, ZenNet,
GENet) under a FLOPs / parameters / depth budget.

    python tools/analysis/nas_search.py CONFIG --score {maedet,zen} [--shape H W]
        [--budget-flops F | --budget-from CONFIG2] [--budget-params P] [--budget-layers L]
        [--population 64] [--iterations 500] [--mutations 2] [--seed 0]
        [--batch-size 4] [--repeat 1] [--stage-weights 0 0 1 1 6] [--out search.json]

The search of Zen-NAS (arXiv:2102.01063) and MAE-DET (arXiv:2111.13336), as in the official
alibaba/lightweight-neural-architecture-search: the population starts as copies of the config's
backbone; each iteration picks a random member, mutates ``--mutations`` random blocks (one of
width, bottleneck width, kernel size or depth each; stem: width), and adds the child to the
population when it fits the budget; the population keeps its ``--population`` best distinct
members by zero-shot score. The search is deterministic for a given ``--seed`` (mutations from
``random.Random(seed)``, each candidate's score from a generator seeded by its index).

MAE-DET space (official ``space_k1kxk1``): widths scaled by one of 1.5, 1.25, 0.8, 0.6, 0.5 and
rounded to 8 (at most 2048), kernels 3 / 5, depth +-1 or +-2 (at least 1; the first block at
most 3, the others at most ``budget_layers // 3 // (blocks - 1)``), out <= 4 x in, out >= in,
out <= next block's out and >= a quarter of it, out / 10 <= bottleneck <= out, stem <= 32
channels. ZenNet / GENet: the same width, kernel (3 / 5 / 7) and depth moves on their block
lists, widths rounded to 8.
The budget FLOPs are the backbone's (mmengine ``FlopAnalyzer`` at ``--shape``, one
multiply-add per FLOP, as ``tools/analysis/get_flops.py``); ``--budget-from`` takes those of
another config's backbone (e.g. the baseline the search should match).
"""
import argparse
import copy
import json
import random
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import DictAction

import mmext  # noqa: F401
from mmext.utils import load_config, load_script
from mmext.utils.zero_shot_nas import backbone_complexity, build_backbone, plain_network

CHANNEL_SCALES = (1.5, 1.25, 0.8, 0.6, 0.5)
LAYER_STEPS = (-2, -1, 1, 2)
MAX_CHANNELS = 2048


def smart_round(x: float, base: int = 8) -> int:
    """Nearest multiple of ``base``, at least ``base`` (the official ``smart_round``)."""
    return max(base, int(round(x / base)) * base)


def _scale(rng: random.Random, channels: int) -> int:
    return min(MAX_CHANNELS, smart_round(rng.choice(CHANNEL_SCALES) * channels))


def _other(rng: random.Random, value, choices: Sequence):
    """A choice different from ``value`` when there is one (the official kernel / layer moves)."""
    new = value
    for _ in range(len(choices)):
        new = rng.choice(choices)
        if new != value:
            break
    return new


def _depth(rng: random.Random, layers: int) -> int:
    return max(1, layers + _other(rng, 0, LAYER_STEPS))


class MAEDetSpace:
    """The MAE-DET ``K1KXK1`` super-block space; the genome is the official structure list."""

    kernels = (3, 5)

    def __init__(self, budget_layers: Optional[int] = None, max_stem: int = 32):
        self.budget_layers = budget_layers
        self.max_stem = max_stem

    def genome(self, cfg) -> List[dict]:
        from mmext.models.backbones.maedet import MAEDet, parse_maedet_structure
        arch = cfg.get('arch', 's')
        if isinstance(arch, str) and arch.lower() in MAEDet.arch_settings:
            return copy.deepcopy(MAEDet.arch_settings[arch.lower()])
        return parse_maedet_structure(arch)

    def layers(self, g: List[dict]) -> int:
        return 1 + sum(3 * b['L'] for b in g[1:])

    def mutate_block(self, g: List[dict], i: int, rng: random.Random) -> None:
        b, nxt = g[i], (g[i + 1] if i + 1 < len(g) else None)
        if i == 0:
            if nxt is not None:
                b['out'] = min(self.max_stem, nxt['out'], _scale(rng, b['out']))
            return
        method = rng.choice(('out', 'k', 'btn', 'L'))
        if method == 'out':
            out = max(b['in'], min(4 * b['in'], _scale(rng, b['out'])))
            if nxt is not None:
                out = max(min(out, nxt['out']), smart_round(nxt['out'] / 4))
            b['out'] = out
        elif method == 'k':
            b['k'] = _other(rng, b['k'], self.kernels)
        elif method == 'btn':
            b['btn'] = min(b['out'], _scale(rng, b['btn']))
        else:
            layers = _depth(rng, b['L'])
            if i == 1:
                layers = min(3, layers)
            elif self.budget_layers:
                layers = min(self.budget_layers // 3 // (len(g) - 2), layers)
            b['L'] = max(1, layers)
        b['btn'] = max(b['btn'], smart_round(b['out'] / 10))

    def fix(self, g: List[dict]) -> None:
        for prev, b in zip(g, g[1:]):
            b['in'] = prev['out']

    def arch(self, g: List[dict]):
        return g


class RowSpace:
    """ZenNet / GENet: a block list of rows whose fields are given by index."""

    kernels = (3, 5, 7)

    def __init__(self, rows_key: str, widths: Sequence[int], kernel: int, depth: int,
                 convs_per_layer: int, budget_layers: Optional[int] = None):
        self.rows_key, self.widths = rows_key, widths
        self.kernel, self.depth, self.convs = kernel, depth, convs_per_layer
        self.budget_layers = budget_layers

    def genome(self, cfg) -> Dict:
        from mmext.models.layers.backbone_utils import resolve_arch
        from mmext.registry import MODELS
        cls = MODELS.get(cfg['type'].split('.')[-1])
        return resolve_arch(cfg.get('arch', next(iter(cls.arch_settings))), cls.arch_settings,
                            ('stem_channels', self.rows_key, 'last_channels'))

    def layers(self, g: Dict) -> int:
        return 2 + sum(self.convs * r[self.depth] for r in g[self.rows_key])

    def mutate_block(self, g: Dict, i: int, rng: random.Random) -> None:
        if i == 0:
            g['stem_channels'] = _scale(rng, g['stem_channels'])
            return
        row = g[self.rows_key][i - 1]
        method = rng.choice(('width', 'k', 'L'))
        if method == 'width':
            idx = rng.choice(self.widths)
            row[idx] = _scale(rng, row[idx])
        elif method == 'k':
            row[self.kernel] = _other(rng, row[self.kernel], self.kernels)
        else:
            row[self.depth] = _depth(rng, row[self.depth])

    def fix(self, g: Dict) -> None:
        pass

    def arch(self, g: Dict):
        return g


def build_space(backbone_type: str, budget_layers: Optional[int] = None):
    """The search space of a backbone type (``'mmext.MAEDet'``, ``'mmext.ZenNet'``, ...)."""
    name = backbone_type.split('.')[-1]
    if name == 'MAEDet':
        return MAEDetSpace(budget_layers)
    if name == 'ZenNet':  # rows [expansion, k, out, stride, btn, sub_layers], 6 convs a layer
        return RowSpace('blocks', (2, 4), 1, 5, 6, budget_layers)
    if name == 'GENet':  # rows [type, out, k, stride, expansion, layers]
        return RowSpace('stages', (1, ), 2, 5, 3, budget_layers)
    raise ValueError(f'"model.backbone.type" {backbone_type!r} has no search space; '
                     "searchable: 'mmext.MAEDet', 'mmext.ZenNet', 'mmext.GENet'")


def make_score_fn(name: str, input_shape: Sequence[int], batch_size: int, repeat: int,
                  stage_weights: Sequence[float], tools_dir: str) -> Callable:
    """``fn(backbone, generator) -> float``: the zero-shot score of a plain network."""
    import os.path as osp

    def load(fname):
        return load_script(osp.join(tools_dir, fname))

    if name == 'maedet':
        fn = load('maedet_score.py').maedet_score
        return lambda model, gen: fn(model, input_shape, batch_size, repeat, stage_weights,
                                     generator=gen)['maedet_score']
    if name == 'zen':
        fn = load('zen_score.py').zen_score
        return lambda model, gen: fn(model, input_shape, max(2, batch_size), repeat,
                                     generator=gen)['zen_score']
    raise ValueError(f'"--score" must be maedet or zen, got {name!r}')


def search(backbone_cfg: Dict,
           score_fn: Callable,
           input_shape: Sequence[int],
           budget_flops: Optional[float] = None,
           budget_params: Optional[float] = None,
           budget_layers: Optional[int] = None,
           population: int = 64,
           iterations: int = 500,
           mutations: int = 2,
           seed: int = 0,
           log: Optional[Callable] = print,
           resume: Optional[Dict] = None) -> Dict:
    """Evolutionary search from ``backbone_cfg`` (its ``arch`` is the first population member).

    Args:
        backbone_cfg (dict): Config of an ``mmext.MAEDet`` / ``ZenNet`` / ``GENet`` backbone.
        score_fn (Callable): ``fn(plain_backbone, generator) -> float``, higher is better.
        input_shape (Sequence[int]): ``(C, H, W)`` for the FLOPs count.
        budget_flops (float, optional): Largest FLOPs allowed. Defaults to None.
        budget_params (float, optional): Largest parameter count. Defaults to None.
        budget_layers (int, optional): Largest number of conv layers. Defaults to None.
        population (int): Population size. Defaults to 64.
        iterations (int): Candidates generated. Defaults to 500.
        mutations (int): Blocks mutated per candidate (official ``block_num``). Defaults to 2.
        seed (int): Seed of the mutations and scores. Defaults to 0.
        log (Callable, optional): Progress printer. Defaults to ``print``.
        resume (dict, optional): A previous result of this function (same settings): its
            population is kept and the iterations continue from its last one (the official
            ``ea_load_population``). Defaults to None.

    Returns:
        dict: ``best`` (arch, score, flops, params, layers), ``population`` (ranked) and
        ``history`` (best score after each iteration), ``evaluated`` / ``over_budget`` counts.
    """
    import mmengine.registry
    space = build_space(backbone_cfg['type'], budget_layers)
    rng = random.Random(seed)
    cache: Dict[str, Optional[dict]] = {}

    def evaluate(g, index) -> Optional[dict]:
        key = json.dumps(g, sort_keys=True)
        if key in cache:
            return cache[key]
        info = None
        layers = space.layers(g)
        if budget_layers is None or layers <= budget_layers:
            model = mmengine.registry.MODELS.build(dict(backbone_cfg, arch=space.arch(g)))
            params, flops = backbone_complexity(model, input_shape)
            if ((budget_flops is None or flops <= budget_flops)
                    and (budget_params is None or params <= budget_params)):
                plain_network(model)
                # the Zen-score draws its weights from torch's global generator
                torch.manual_seed(seed * 1000003 + index)
                gen = torch.Generator().manual_seed(seed * 1000003 + index)
                info = dict(arch=copy.deepcopy(g), score=float(score_fn(model, gen)),
                            flops=flops, params=params, layers=layers)
        cache[key] = info
        return info

    if resume:
        members = [dict(m) for m in resume['population']]
        for m in members:
            cache[json.dumps(m['arch'], sort_keys=True)] = m
        history, over = list(resume['history']), resume['over_budget']
    else:
        start = evaluate(space.genome(backbone_cfg), 0)
        if start is None:
            raise ValueError('the initial backbone (the config\'s "model.backbone.arch") exceeds '
                             'the budget; start the search from a smaller one')
        members, history, over = [start], [], 0
    done = len(history)
    if done:  # a resumed search draws other mutations than its first part
        rng = random.Random(f'{seed}-{done}')
    for it in range(done + 1, done + iterations + 1):
        child = copy.deepcopy(rng.choice(members)['arch'])
        n_blocks = len(child) if isinstance(child, list) else len(child[space.rows_key]) + 1
        for _ in range(mutations):
            space.mutate_block(child, rng.randrange(n_blocks), rng)
            space.fix(child)
        info = evaluate(child, it)
        if info is None:
            over += 1
        elif all(m['arch'] != info['arch'] for m in members):
            members.append(info)
            members.sort(key=lambda m: -m['score'])
            del members[population:]
        history.append(members[0]['score'])
        if log and (it % 50 == 0 or it == done + iterations):
            b = members[0]
            log(f'iter {it}/{done + iterations}: best score {b["score"]:.3f}, '
                f'FLOPs {b["flops"] / 1e6:.1f}M, params {b["params"] / 1e6:.3f}M, '
                f'layers {b["layers"]}; {over} over budget')
    return dict(best=members[0], population=members, history=history,
                evaluated=len(cache), over_budget=over)


def main(argv=None) -> Dict:
    import os.path as osp
    parser = argparse.ArgumentParser(description='Zero-shot evolutionary backbone search')
    parser.add_argument('config', help='config whose model.backbone starts the search')
    parser.add_argument('--score', choices=['maedet', 'zen'], default='maedet')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224], help='input H W')
    parser.add_argument('--in-channels', type=int, default=3)
    parser.add_argument('--budget-flops', type=float, default=None)
    parser.add_argument('--budget-from', default=None,
                        help='config whose backbone FLOPs (at --shape) are the budget')
    parser.add_argument('--budget-params', type=float, default=None)
    parser.add_argument('--budget-layers', type=int, default=None)
    parser.add_argument('--population', type=int, default=64)
    parser.add_argument('--iterations', type=int, default=500)
    parser.add_argument('--mutations', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=4, help='score batch')
    parser.add_argument('--repeat', type=int, default=1, help='score repeats per candidate')
    parser.add_argument('--stage-weights', type=float, nargs='+', default=[0, 0, 1, 1, 6])
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    parser.add_argument('--resume', default=None,
                        help='JSON result of an earlier search with the same settings: continue it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    height, width = (args.shape * 2)[:2]
    shape = (args.in_channels, height, width)
    budget_flops = args.budget_flops
    if args.budget_from:
        torch.manual_seed(0)
        ref = build_backbone(load_config(args.budget_from))
        budget_flops = backbone_complexity(ref, shape)[1]
        print(f'budget: FLOPs of {args.budget_from} backbone at {height}x{width}: '
              f'{budget_flops / 1e6:.1f}M')
    build_backbone(cfg)  # sets the default scope, checks the start backbone builds
    resume = None
    if args.resume:
        with open(args.resume) as f:
            resume = json.load(f)
    score_fn = make_score_fn(args.score, shape, args.batch_size, args.repeat,
                             args.stage_weights, osp.dirname(osp.abspath(__file__)))
    result = search(cfg.model.backbone.to_dict(), score_fn, shape, budget_flops,
                    args.budget_params, args.budget_layers, args.population, args.iterations,
                    args.mutations, args.seed, resume=resume)
    best = result['best']
    print(f'best ({args.score} score {best["score"]:.3f}, {best["params"] / 1e6:.3f}M params, '
          f'{best["flops"] / 1e6:.1f}M FLOPs at {height}x{width}, {best["layers"]} layers):\n'
          f'arch={best["arch"]!r}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(result, config=args.config, score_name=args.score, shape=shape,
                           budget_flops=budget_flops, budget_params=args.budget_params,
                           budget_layers=args.budget_layers, seed=args.seed), f, indent=1)
    return result


if __name__ == '__main__':
    main()
