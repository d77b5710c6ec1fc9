"""Inference throughput (images/s) of configs, e.g. token-sparsified ViTs vs their baselines.

    python tools/analysis/benchmark_throughput.py CONFIG [CONFIG ...] [--shape H W]
        [--batch-size 32] [--iters 10] [--warmup 3] [--device cpu|cuda] [--threads N [N ...]]
        [--settings all | G,R ...] [--flops] [--cfg-options k=v ...]

Each config's model runs ``model(inputs, mode='tensor')`` (backbone + neck + head) under
``torch.no_grad`` on random inputs; the table names the device (CPU model and thread count, or
GPU name). For a SuperViT model (a backbone with ``settings``), ``--settings all`` measures
every (token grid, keeping rate) pair and ``--settings 14,0.7 8,1`` chosen ones. ``--flops``
adds mmengine FLOPs (one multiply-add = one FLOP) per row. ``--threads 1 2`` measures every
config with 1, then 2 CPU threads (one row each, with the latency of one batch).
"""
import argparse
import platform
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.utils import load_config, seconds_per_call


def device_name(device: torch.device) -> str:
    """Human-readable name of the device the numbers were taken on."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    name = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{name}, {torch.get_num_threads()} thread(s)'


class _TensorForward(nn.Module):

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, mode='tensor')


def measure(model: nn.Module, inputs: torch.Tensor, iters: int = 10,
            warmup: int = 3) -> float:
    """Images per second of ``model(inputs, mode='tensor')``."""
    with torch.no_grad():
        seconds = seconds_per_call(lambda: model(inputs, mode='tensor'), iters, warmup,
                                   inputs.device)
    return inputs.shape[0] / seconds


def _parse_settings(values: Optional[Sequence[str]], backbone) -> List[Optional[Tuple]]:
    if not values or not hasattr(backbone, 'settings'):
        return [None]
    if values == ['all']:
        return list(backbone.settings)
    settings = []
    for v in values:
        grid, rate = v.split(',')
        settings.append((int(grid), float(rate)))
    return settings


def benchmark(configs: Sequence[str], shape: Tuple[int, int], batch_size: int = 32,
              iters: int = 10, warmup: int = 3, device: str = 'cpu',
              settings: Optional[Sequence[str]] = None, flops: bool = False,
              cfg_options: Optional[Dict] = None) -> List[Dict]:
    """Measure every config (and SuperViT setting); returns one dict per table row."""
    import mmengine.registry
    dev = torch.device(device)
    rows = []
    for path in configs:
        cfg = load_config(path, cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        model = mmengine.registry.MODELS.build(cfg.model).to(dev).eval()
        preprocessor = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor') or {}
        in_channels = len(preprocessor.get('mean', [0, 0, 0]))
        inputs = torch.randn(batch_size, in_channels, *shape, device=dev)
        backbone = getattr(model, 'backbone', model)
        params = sum(p.numel() for p in model.parameters())
        for setting in _parse_settings(settings, backbone):
            if setting is not None:
                backbone.set_setting(*setting)
                if hasattr(model, 'test_setting'):
                    model.test_setting = setting
            row = dict(config=path, setting=setting, params=params,
                       throughput=measure(model, inputs, iters, warmup))
            if flops:
                from mmengine.analysis import FlopAnalyzer
                with torch.no_grad():
                    analyzer = FlopAnalyzer(_TensorForward(model), (inputs[:1], ))
                    analyzer.unsupported_ops_warnings(False)
                    analyzer.uncalled_modules_warnings(False)
                    row['flops'] = analyzer.total()
            rows.append(row)
    return rows


def format_table(rows: List[Dict], device: str, shape: Tuple[int, int],
                 batch_size: int) -> str:
    head = ('| config | setting | threads | params | FLOPs | images/s | ms / batch |\n'
            '| --- | --- | --- | --- | --- | --- | --- |\n')
    lines = []
    for r in rows:
        setting = '-' if r['setting'] is None else f'grid {r["setting"][0]}, keep ' \
            f'{r["setting"][1]:g}'
        fl = '-' if 'flops' not in r else f'{r["flops"] / 1e9:.3f} G' \
            if r['flops'] >= 1e8 else f'{r["flops"] / 1e6:.2f} M'
        params = f'{r["params"] / 1e6:.2f} M' if r['params'] >= 1e5 else \
            f'{r["params"] / 1e3:.1f} k'
        lines.append(f'| {r["config"]} | {setting} | {r.get("threads", "-")} | '
                     f'{params} | {fl} | {r["throughput"]:.1f} | '
                     f'{1e3 * batch_size / r["throughput"]:.2f} |')
    return (f'Device: {device}; input {shape[0]}x{shape[1]}, batch {batch_size}\n\n' + head +
            '\n'.join(lines))


def main(argv=None) -> List[Dict]:
    parser = argparse.ArgumentParser(description='Inference throughput of configs')
    parser.add_argument('configs', nargs='+', help='config file paths')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224], help='input H W')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, nargs='+', default=None,
                        help='torch CPU threads; several values: one run each')
    parser.add_argument('--settings', nargs='+', default=None,
                        help='SuperViT settings: "all" or GRID,KEEP_RATE ...')
    parser.add_argument('--flops', action='store_true', help='also count FLOPs per row')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    args = parser.parse_args(argv)
    shape = tuple((args.shape * 2)[:2])
    rows = []
    for threads in args.threads or [None]:
        if threads:
            torch.set_num_threads(threads)
        for row in benchmark(args.configs, shape, args.batch_size, args.iters, args.warmup,
                             args.device, args.settings, args.flops, args.cfg_options):
            rows.append(dict(row, threads=torch.get_num_threads()))
    device = device_name(torch.device(args.device))
    if args.threads and len(args.threads) > 1:
        device = device.rsplit(',', 1)[0]  # the thread count is a column
    print(format_table(rows, device, shape, args.batch_size))
    return rows


if __name__ == '__main__':
    main()
