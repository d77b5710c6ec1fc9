import json
import subprocess
import sys

import pytest
import torch


def test_time_ms_times_ours_and_baseline(load_tool):
    tool = load_tool('analysis/benchmark_attention.py')
    calls = []

    def ours(q, k, v):
        calls.append('ours')
        return tool.knn_attention(q, k, v, topk=3)

    def baseline(q, k, v):
        calls.append('baseline')
        return tool.F.scaled_dot_product_attention(q, k, v)

    case = tool.Case('tiny', '3x3', tool._randn(1, 2, 9, 4), ours, baseline, 'dense SDPA')
    t_ours, t_base = tool.time_ms(case, 'cpu', repeat=2)
    assert t_ours > 0 and t_base > 0
    # one warm-up + two timed runs each, alternating
    assert calls == ['ours', 'baseline'] * 3


def test_rss_child_reports_peak_memory():
    out = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark_attention.py', '--_rss-child', 'knn-197',
         'ours', '1'], check=True, capture_output=True, text=True).stdout
    mib = json.loads(out.strip().splitlines()[-1])['mib']
    # at least the 8x6x197x197 float32 mask (7.1 MiB) is alive during the forward
    assert mib > 7


@pytest.mark.parametrize('name', ['msda', 'elsa', 'knn'])
def test_official_baselines_compute_our_function(load_tool, name):
    """The baselines re-implement the official algorithms: same outputs and gradients as ours,
    so the benchmark compares two ways of computing one function."""
    tool = load_tool('analysis/benchmark_attention.py')
    make = {
        'msda': tool._randn(2, 3, 4, 7, 9),
        'elsa': tool._elsa_inputs(2, 3, 4, 8, 7, 7),
        'knn': tool._randn(2, 3, 11, 8)
    }[name]
    extra = {'knn': dict(topk=5)}.get(name, {})
    ours, official = getattr(tool, f'ours_{name}'), getattr(tool, f'official_{name}')
    inputs = [t.double().requires_grad_() for t in make('cpu')]
    out, ref = ours(*inputs, **extra), official(*inputs, **extra)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref)
    grad = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, inputs, grad), torch.autograd.grad(ref, inputs, grad)):
        torch.testing.assert_close(a, b)


def test_update_readme_writes_the_rows_of_its_cases(load_tool, tmp_path):
    tool = load_tool('analysis/benchmark_attention.py')
    readme = tmp_path / 'README.md'
    readme.write_text('intro\n<!-- compare_runs:attention-benchmark -->\nold\n'
                      '<!-- /compare_runs:attention-benchmark -->\nend\n')
    table = '\n'.join(['| case | threads |', '| --- | --- |', '| msda-56 | 1 |', '| elsa-56 | 1 |',
                       '| msda-28 | 2 |', '', 'Load average (1 / 5 / 15 min) before: 1; after: 2.'])
    assert tool.update_readme(str(readme), table, 'msda')
    assert readme.read_text() == (
        'intro\n<!-- compare_runs:attention-benchmark -->\n| case | threads |\n| --- | --- |\n'
        '| msda-56 | 1 |\n| msda-28 | 2 |\n\nLoad average (1 / 5 / 15 min) before: 1; after: 2.\n'
        '<!-- /compare_runs:attention-benchmark -->\nend\n')
    assert not tool.update_readme(str(readme), table, 'msda')
