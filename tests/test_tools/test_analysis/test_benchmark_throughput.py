"""tools/analysis/benchmark_throughput.py measures configs and SuperViT settings."""
import pytest


@pytest.fixture(scope='module')
def bench(load_tool):
    return load_tool('analysis/benchmark_throughput.py')


def test_supervit_settings_table(bench, capsys):
    rows = bench.main([
        'configs/supervit/supervit-tiny-p4_1xb128-1e_fashionmnist.py', '--shape', '28',
        '--batch-size', '4', '--iters', '1', '--warmup', '0', '--settings', '7,1', '4,0.5',
        '--flops'
    ])
    assert [r['setting'] for r in rows] == [(7, 1.0), (4, 0.5)]
    assert all(r['throughput'] > 0 for r in rows)
    # fewer tokens: fewer FLOPs
    assert rows[1]['flops'] < 0.5 * rows[0]['flops']
    out = capsys.readouterr().out
    assert 'Device:' in out and 'grid 4, keep 0.5' in out


def test_bad_iters(bench):
    import torch
    with pytest.raises(ValueError, match='"iters" must be >= 1'):
        bench.measure(torch.nn.Identity(), torch.zeros(1), iters=0)


def test_thread_counts_one_row_each(bench, capsys):
    import torch
    threads = torch.get_num_threads()
    rows = bench.main(['configs/gap/resnet8-w16_1xb128-4e_fashionmnist.py', '--shape', '28',
                       '--batch-size', '2', '--iters', '1', '--warmup', '0', '--threads', '1',
                       '2'])
    torch.set_num_threads(threads)
    assert [r['threads'] for r in rows] == [1, 2]
    out = capsys.readouterr().out
    assert '| threads |' in out and 'ms / batch' in out and '77.8 k' in out
