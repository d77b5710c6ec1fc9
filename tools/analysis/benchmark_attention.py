# Copyright (c) mmext contributors. All rights reserved.
"""Time and peak memory of mmext attention kernels against the official algorithms.

Every case runs forward + backward of ``ours`` and of a baseline on the same random inputs
and prints a markdown table: median time per forward+backward and peak memory, at 1 CPU thread
and at all cores (``--threads``), on CPU and on CUDA when available (the device is a column).
The baselines re-implement the official code step by step (DilateFormer's unfold + matmul,
ELSA's unfold path, KVT's topk + scatter on the full logits; see ``official_*`` below), plus
dense SDPA for k-NN attention. The machine's load average is printed before and after, as
timings on a shared machine depend on it.

Peak memory:
- CUDA: ``torch.cuda.max_memory_allocated`` during one forward+backward, minus the memory
  allocated before it (the inputs).
- CPU: there is no allocator statistic, so each measurement runs in a fresh subprocess
  (``MALLOC_MMAP_THRESHOLD_`` fixed so glibc hands large blocks back to the OS), resets the
  kernel's peak-RSS mark after imports, input creation and one warm-up pass
  (``/proc/self/clear_refs``) and reports peak RSS (``VmHWM``) minus the resident size at that
  moment (Linux only).

Add a case by appending a :class:`Case` to ``CASES``.

Usage::

    python tools/analysis/benchmark_attention.py                 # all cases, 1 thread and all
    python tools/analysis/benchmark_attention.py --cases msda-56 --repeat 5 --threads 1 2
    python tools/analysis/benchmark_attention.py --complexity    # params / FLOPs of the models
    # write the rows of the cases named msda* into the README's generated block
    python tools/analysis/benchmark_attention.py --update-readme configs/dilateformer/README.md=msda

A README's generated block lies between ``<!-- compare_runs:attention-benchmark -->`` and
``<!-- /compare_runs:attention-benchmark -->`` (the markers of ``compare_runs.py``).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from mmext.models.layers.elsa import elsa_aggregate  # noqa: E402
from mmext.models.layers.knn_attention import knn_attention  # noqa: E402
from mmext.models.layers.msda import multi_scale_dilated_attention  # noqa: E402
from mmext.utils import load_script, seconds_per_call  # noqa: E402


@dataclass
class Case:
    """One benchmark row pair.

    Args:
        name (str): Case id used by ``--cases``.
        tokens (str): Token grid of the case, e.g. ``'56x56'``.
        make_inputs (Callable): ``(device) -> tuple of tensors`` (they get ``requires_grad``).
        ours (Callable): mmext implementation, called with the inputs.
        baseline (Callable): The reference / baseline, called with the inputs.
        baseline_name (str): How the baseline is named in the table.
    """
    name: str
    tokens: str
    make_inputs: Callable
    ours: Callable
    baseline: Callable
    baseline_name: str


def _randn(*shape: int) -> Callable:
    """Factory of three same-shape random tensors (q, k, v) on a device."""

    def make(device: str):
        gen = torch.Generator().manual_seed(0)
        return tuple(torch.randn(shape, generator=gen).to(device) for _ in range(3))

    return make


# --- Baselines that follow the official code step by step (re-written here; the official
# modules need timm / CUDA extensions and are not installed). Each takes the tensors of our
# layer's interface and returns the layout the official module hands to its output projection.

def official_msda(q, k, v, kernel_size: int = 3, dilations: Sequence[int] = (1, 2, 3)):
    """DilateFormer's MultiDilatelocalAttention core (JIAOJIAYUASD/dilateformer): per dilation
    group, ``nn.Unfold`` of K and V, ``(q @ k) * scale``, softmax over the k*k neighbours,
    ``attn @ v``, each group written into a ``(groups, B, H, W, C/groups)`` buffer, then
    permuted to ``(B, H, W, C)``.

    q, k, v: ``(B, heads, d, H, W)``, q unscaled. The official code writes the groups into a
    view of its input (which autograd saved for the qkv conv, so its backward raises); a fresh
    buffer is used here, one copy more than the official forward, none less.
    """
    B, heads, d, H, W = q.shape
    G = len(dilations)
    hg, K, N = heads // G, kernel_size**2, H * W
    scale = d**-0.5
    out = q.new_empty(G, B, H, W, hg * d)
    for i, r in enumerate(dilations):
        unfold = torch.nn.Unfold(kernel_size, r, r * (kernel_size - 1) // 2, 1)
        group = slice(i * hg, (i + 1) * hg)
        qi, ki, vi = (t[:, group].reshape(B, hg * d, H, W) for t in (q, k, v))
        qi = qi.reshape(B, hg, d, 1, N).permute(0, 1, 4, 3, 2)  # (B, h, N, 1, d)
        ki = unfold(ki).reshape(B, hg, d, K, N).permute(0, 1, 4, 2, 3)  # (B, h, N, d, K)
        attn = ((qi @ ki) * scale).softmax(dim=-1)  # (B, h, N, 1, K)
        vi = unfold(vi).reshape(B, hg, d, K, N).permute(0, 1, 4, 3, 2)  # (B, h, N, K, d)
        out[i] = (attn @ vi).transpose(1, 2).reshape(B, H, W, hg * d)
    return out.permute(1, 2, 3, 0, 4).reshape(B, H, W, heads * d)


def ours_msda(q, k, v, kernel_size: int = 3, dilations: Sequence[int] = (1, 2, 3)):
    """Our MSDA on the same inputs, called and laid out as :class:`MultiScaleDilatedAttention`
    does."""
    B, heads, d, H, W = q.shape
    out = multi_scale_dilated_attention(q, k, v, kernel_size, dilations, scale=d**-0.5)
    return out.reshape(B, heads * d, H, W).permute(0, 2, 3, 1)


def official_elsa(v, attn, ghost_add, kernel_size: int = 7, dilation: int = 1):
    """ELSA's CPU path (damo-cv/ELSA ``elsa_op`` without CUDA) with ``lam=0, gamma=1`` as in
    ELSA-Swin: the ghost head expanded to ``(B*G, Cg, k, k)`` (the multiplicative one all
    ones), ``unfold`` of the values, per-pixel filters ``mul * attn + add`` and their sum.

    v ``(B, G, Cg, H, W)``, attn ``(B, G, k*k, H, W)``, ghost_add ``(G, Cg, k*k)``.
    """
    B, G, Cg, H, W = v.shape
    ks, K = kernel_size, kernel_size**2
    gh_mul = torch.ones(B * G, Cg, ks, ks, device=v.device)
    gh_add = ghost_add.reshape(1, G * Cg, ks, ks).expand(B, -1, -1, -1).reshape(
        B * G, Cg, ks, ks)
    features = F.unfold(v.reshape(B * G, Cg, H, W), ks, dilation=dilation,
                        padding=ks // 2 * dilation).reshape(B * G, Cg, K, H * W)
    filters = (gh_mul.reshape(B * G, Cg, K, 1) * attn.reshape(B * G, 1, K, H * W) +
               gh_add.reshape(B * G, Cg, K, 1))
    return (features * filters).sum(2).reshape(B, G, Cg, H, W)


def ours_elsa(v, attn, ghost_add, kernel_size: int = 7, dilation: int = 1):
    return elsa_aggregate(v, attn, None, ghost_add, kernel_size, dilation)


def official_knn(q, k, v, topk: int = 100):
    """KVT's kNNAttention core (damo-cv/KVT): full logits, ``torch.topk`` indices scattered into
    a 0/1 mask, ``torch.where`` to ``-inf``, softmax, ``attn @ v``, heads merged."""
    B, h, N, d = q.shape
    attn = (q @ k.transpose(-2, -1)) * d**-0.5
    mask = torch.zeros(B, h, N, N, device=q.device, requires_grad=False)
    index = torch.topk(attn, k=topk, dim=-1, largest=True)[1]
    mask.scatter_(-1, index, 1.)
    attn = torch.where(mask > 0, attn, torch.full_like(attn, float('-inf')))
    attn = attn.softmax(dim=-1)
    return (attn @ v).transpose(1, 2).reshape(B, N, h * d)


def ours_knn(q, k, v, topk: int = 100):
    B, h, N, d = q.shape
    return knn_attention(q, k, v, topk).transpose(1, 2).reshape(B, N, h * d)


def dense_sdpa(q, k, v):
    B, h, N, d = q.shape
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, N, h * d)


def _elsa_inputs(B: int, G: int, Cg: int, H: int, W: int, k: int) -> Callable:
    """Factory of ELSA inputs: values (B, G, Cg, H, W), attention (B, G, k*k, H, W) and the
    additive ghost head (G, Cg, k*k) on a device."""

    def make(device: str):
        gen = torch.Generator().manual_seed(0)
        v = torch.randn(B, G, Cg, H, W, generator=gen)
        attn = torch.randn(B, G, k * k, H, W, generator=gen).softmax(2)
        ghost_add = torch.randn(G, Cg, k * k, generator=gen) * .02
        return v.to(device), attn.to(device), ghost_add.to(device)

    return make


def _knn_half(q, k, v):
    return ours_knn(q, k, v, topk=q.shape[-2] // 2)


def _official_knn_half(q, k, v):
    return official_knn(q, k, v, topk=q.shape[-2] // 2)


# Shapes are the 224x224 models' stages: DilateFormer-T stage 1 (72 ch, 3 heads of 24 at
# 56x56) and stage 2 (144 ch, 6 heads at 28x28); ELSA-Swin-T stage 1 (96 channels in 3 heads
# of 32 at 56x56, 7x7 neighbourhood, additive ghost head: lam=0, gamma=1); KVT/DeiT-S (6 heads
# of 64) at its own 197 tokens with the official k=100, and at the 28x28 grid with k = N / 2.
CASES: List[Case] = [
    Case('msda-56', '56x56', _randn(8, 3, 24, 56, 56), ours_msda, official_msda,
         'official unfold + matmul'),
    Case('msda-28', '28x28', _randn(8, 6, 24, 28, 28), ours_msda, official_msda,
         'official unfold + matmul'),
    Case('elsa-56', '56x56, k=7', _elsa_inputs(8, 3, 32, 56, 56, 7), ours_elsa, official_elsa,
         'official unfold path'),
    Case('knn-197', '14x14+cls, k=100', _randn(8, 6, 197, 64), ours_knn, official_knn,
         'official topk + scatter'),
    Case('knn-197-dense', '14x14+cls, k=100', _randn(8, 6, 197, 64), ours_knn, dense_sdpa,
         'dense SDPA'),
    Case('knn-28', '28x28, k=N/2', _randn(2, 6, 784, 64), _knn_half, _official_knn_half,
         'official topk + scatter'),
]


def _fwd_bwd(fn: Callable, inputs: Sequence[torch.Tensor]) -> None:
    out = fn(*inputs)
    out.backward(torch.ones_like(out))


def _leaf_inputs(case: Case, device: str):
    return tuple(t.requires_grad_() for t in case.make_inputs(device))


def time_ms(case: Case, device: str, repeat: int) -> Tuple[float, float]:
    """Median wall time (ms) of one forward+backward of ``ours`` and of the baseline, at the
    current ``torch.get_num_threads()``.

    The two alternate (one warm-up each first), so that a load change on a shared machine
    affects both alike and the ratio stays meaningful.
    """
    fns = {'ours': case.ours, 'baseline': case.baseline}
    inputs = {name: _leaf_inputs(case, device) for name in fns}
    times = {name: [] for name in fns}
    for i in range(repeat + 1):
        for name, fn in fns.items():
            for t in inputs[name]:
                t.grad = None
            seconds = seconds_per_call(lambda: _fwd_bwd(fn, inputs[name]), device=device)
            if i > 0:
                times[name].append(seconds * 1e3)
    return statistics.median(times['ours']), statistics.median(times['baseline'])


def _status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        line = next(line for line in f if line.startswith(key + ':'))
    return int(line.split()[1])


def peak_mib(which: str, case: Case, device: str, threads: int = 1) -> float:
    """Peak memory of one forward+backward in MiB (see the module docstring)."""
    if device == 'cuda':
        inputs = _leaf_inputs(case, device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _fwd_bwd(getattr(case, which), inputs)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536', MALLOC_TRIM_THRESHOLD_='65536')
    out = subprocess.run(
        [sys.executable, __file__, '--_rss-child', case.name, which, str(threads)],
        env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])['mib']


def _rss_child(name: str, which: str, threads: str = '1') -> None:
    torch.set_num_threads(int(threads))
    case = next(c for c in CASES if c.name == name)
    inputs = _leaf_inputs(case, 'cpu')
    # One untimed pass first, so that one-time kernel / library initialisation is not counted.
    _fwd_bwd(getattr(case, which), inputs)
    for t in inputs:
        t.grad = None
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the peak RSS mark (VmHWM) to the current RSS
    before = _status_kib('VmRSS')
    _fwd_bwd(getattr(case, which), inputs)
    peak = _status_kib('VmHWM')
    print(json.dumps({'mib': max(peak - before, 0) / 1024}))


def load_average() -> str:
    """The 1 / 5 / 15-minute load average, or '?' where the OS does not tell."""
    try:
        return ' / '.join(f'{x:.1f}' for x in os.getloadavg())
    except OSError:
        return '?'


def run_benchmark(cases: Sequence[Case], devices: Sequence[str], repeat: int,
                  threads: Sequence[int] = (1, )) -> str:
    """Markdown table of every case on every device, CPU cases at each thread count."""
    rows = [
        '| case | tokens | device | threads | ours ms | baseline | baseline ms | time ratio '
        '(ours / baseline) | ours peak MiB | baseline peak MiB | memory ratio |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    before = load_average()
    print(f'load average before: {before}', flush=True)
    print('\n'.join(rows), flush=True)
    default_threads = torch.get_num_threads()
    for device in devices:
        for case in cases:
            for n in (threads if device == 'cpu' else [default_threads]):
                torch.set_num_threads(n)
                t_ours, t_base = time_ms(case, device, repeat)
                m_ours = peak_mib('ours', case, device, n)
                m_base = peak_mib('baseline', case, device, n)
                rows.append(f'| {case.name} | {case.tokens} | {device} | {n} | {t_ours:.1f} | '
                            f'{case.baseline_name} | {t_base:.1f} | {t_ours / t_base:.2f} | '
                            f'{m_ours:.1f} | {m_base:.1f} | {m_ours / max(m_base, 1e-9):.2f} |')
                print(rows[-1], flush=True)
    torch.set_num_threads(default_threads)
    after = load_average()
    print(f'load average after: {after}', flush=True)
    load = f'Load average (1 / 5 / 15 min) before: {before}; after: {after}.'
    return '\n'.join(rows + ['', load])


def update_readme(path: str, table: str, prefix: str) -> bool:
    """Rewrite the attention-benchmark block of ``path`` with the header, the load averages and
    the rows of ``table`` whose case name starts with ``prefix``; True when the file changed."""
    compare_runs = load_script(str(Path(__file__).with_name('compare_runs.py')))
    lines = table.split('\n')
    rows = [line for line in lines[2:] if line.startswith(f'| {prefix}')]
    block = '\n'.join(lines[:2] + rows + lines[-2:])
    return compare_runs.update_readme(path, 'attention-benchmark', block)


def model_complexity() -> str:
    """Params and FLOPs (224x224, 1000-class head) of the DilateFormer and KVT variants.

    FLOPs are mmengine ``FlopAnalyzer`` counts (one multiply-add = one FLOP, as fvcore) with
    two additions it cannot see by itself: ``aten::scaled_dot_product_attention`` (QK^T and AV
    matmuls) and the MSDA neighbourhood products (``2 * H * W * C * k^2`` per layer, done with
    element-wise ops), counted by a forward hook.
    """
    import numpy as np
    from mmengine.analysis import FlopAnalyzer
    from mmengine.analysis.jit_handles import get_shape

    from mmext.models.backbones import KVT, DilateFormer
    from mmext.models.layers.msda import MultiScaleDilatedAttention

    def sdpa_flops(inputs, outputs):
        q, k, v = (get_shape(x) for x in inputs[:3])
        return int(np.prod(q[:-1]) * k[-2] * (q[-1] + v[-1]))

    class WithHead(torch.nn.Module):

        def __init__(self, backbone, dims, pool):
            super().__init__()
            self.backbone, self.pool = backbone, pool
            self.head = torch.nn.Linear(dims, 1000)

        def forward(self, x):
            feat = self.backbone(x)[-1]
            return self.head(feat.mean((2, 3)) if self.pool else feat)

    models = [(f'DilateFormer-{a}', lambda a=a: DilateFormer(a), True)
              for a in ('tiny', 'small', 'base')]
    models += [(f'KVT-{a}', lambda a=a: KVT(a), False)
               for a in ('deit-tiny', 'deit-small', 'deit-base')]
    rows = ['| model | params (M) | FLOPs (G) |', '| --- | --- | --- |']
    for name, build, pool in models:
        backbone = build()
        dims = backbone.channels[-1] if pool else backbone.embed_dims
        model = WithHead(backbone, dims, pool).eval()
        msda_flops = []

        def hook(mod, inputs, output):
            B, H, W, C = inputs[0].shape
            msda_flops.append(2 * int(B) * int(H) * int(W) * int(C) * mod.kernel_size**2)

        for m in model.modules():
            if isinstance(m, MultiScaleDilatedAttention):
                m.register_forward_hook(hook)
        analyzer = FlopAnalyzer(model, torch.randn(1, 3, 224, 224))
        analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flops)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = analyzer.total() + sum(msda_flops)
        params = sum(p.numel() for p in model.parameters())
        rows.append(f'| {name} | {params / 1e6:.2f} | {flops / 1e9:.2f} |')
        print(rows[-1], flush=True)
    return '\n'.join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', nargs='+', help='case names (default: all)')
    parser.add_argument('--device', choices=['cpu', 'cuda', 'all'], default='all',
                        help='"all": CPU, plus CUDA when available')
    parser.add_argument('--repeat', type=int, default=3, help='timed repetitions per cell')
    parser.add_argument('--complexity', action='store_true',
                        help='print params / FLOPs of the models instead')
    parser.add_argument('--threads', type=int, nargs='+',
                        default=sorted({1, os.cpu_count() or 1}),
                        help='CPU thread counts to time at (default: 1 and all cores)')
    parser.add_argument('--update-readme', nargs='+', default=[], metavar='README=PREFIX',
                        help='write the rows of the cases whose name starts with PREFIX, with '
                        'the load averages, into the attention-benchmark block of README')
    parser.add_argument('--_rss-child', nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._rss_child:
        _rss_child(*args._rss_child)
        return
    if args.complexity:
        model_complexity()
        return
    cases = [c for c in CASES if not args.cases or c.name in args.cases]
    if not cases:
        parser.error(f'no case among {[c.name for c in CASES]} matches {args.cases}')
    devices = ['cpu', 'cuda'] if args.device == 'all' else [args.device]
    if 'cuda' in devices and not torch.cuda.is_available():
        devices.remove('cuda')
        if not devices:
            parser.error('CUDA is not available')
    targets = [target.partition('=')[::2] for target in args.update_readme]
    for path, prefix in targets:
        if not prefix or not any(c.name.startswith(prefix) for c in cases):
            parser.error(f'--update-readme {path}={prefix}: no benchmarked case starts with '
                         f'"{prefix}"')
    print(f'torch {torch.__version__}, {os.cpu_count()} CPU cores')
    table = run_benchmark(cases, devices, args.repeat, args.threads)
    for path, prefix in targets:
        changed = update_readme(path, table, prefix)
        print(f'{path}: {"updated" if changed else "unchanged"}')


if __name__ == '__main__':
    main()
