import pytest


def test_benchmark_prints_three_timings(load_tool, fashion_mnist_root, capsys):
    tool = load_tool('analysis/benchmark_distill.py')
    results = tool.main([
        'configs/mgd/mgd_resnet18-w16-w8_1xb128-1e_fashionmnist.py', '--random-teacher',
        '--iters', '1', '--warmup', '1', '--rounds', '1', '--batch-size', '4', '--device', 'cpu'
    ])
    out = capsys.readouterr().out
    assert 'device: CPU' in out and 'distill / (student + teacher)' in out
    assert all(results[k] > 0 for k in ('student', 'teacher', 'losses', 'distill'))
    assert results['ratio'] == pytest.approx(
        results['distill'] / (results['student'] + results['teacher']))
    assert results['overhead'] == pytest.approx(
        results['distill'] / (results['student'] + results['teacher'] + results['losses']))


def test_benchmark_on_synthetic_images(load_tool, capsys):
    """--synthetic needs no dataset: the tiny pair runs on random 32x32 images."""
    tool = load_tool('analysis/benchmark_distill.py')
    results = tool.main([
        'configs/nkd/nkd_resnet18-w16-w8_1xb128-1e_fashionmnist.py', '--random-teacher',
        '--synthetic', '32', '--iters', '1', '--warmup', '0', '--rounds', '1', '--batch-size',
        '2', '--device', 'cpu', '--cfg-options', 'train_dataloader.dataset.data_root=/nonexistent'
    ])
    assert 'random 32x32 images, batch size 2' in capsys.readouterr().out
    assert all(results[k] > 0 for k in ('student', 'teacher', 'losses', 'distill'))


def test_benchmark_needs_a_teacher(load_tool):
    tool = load_tool('analysis/benchmark_distill.py')
    with pytest.raises(ValueError, match='no teacher'):
        tool.main(['configs/nkd/tf-nkd_resnet18-w8_1xb128-1e_fashionmnist.py', '--iters', '1'])


def test_synthetic_needs_a_classifier(load_tool):
    tool = load_tool('analysis/benchmark_distill.py')
    with pytest.raises(ValueError, match='--synthetic needs a classification student'):
        tool.main(['configs/mgd/mgd_retinanet_r18-w32_fpn_40e_nuclei.py', '--random-teacher',
                   '--synthetic', '64', '--iters', '1'])
