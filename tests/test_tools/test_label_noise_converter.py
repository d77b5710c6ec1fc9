"""tools/dataset_converters/label_noise.py: instance-dependent noise of Xia et al. (2020)."""
import numpy as np
import pytest


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('dataset_converters/label_noise.py')


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n)


def test_rates_and_transition_rows(tool):
    images, labels = _data()
    for rate in (0.2, 0.4):
        noisy, prob = tool.instance_dependent_noise(images, labels, rate, seed=1)
        assert noisy.dtype == np.int64 and noisy.shape == labels.shape
        assert abs((noisy != labels).mean() - rate) < 0.03
        np.testing.assert_allclose(prob.sum(1), 1.0, atol=1e-9)
        # the clean label keeps 1 - q_i with q_i from N(rate, 0.1) truncated to [0, 1]
        keep = prob[np.arange(len(labels)), labels]
        assert keep.min() >= 0 and keep.max() <= 1
        assert abs((1 - keep).mean() - rate) < 0.01
    noisy0, _ = tool.instance_dependent_noise(images, labels, 0.0, seed=1)
    # rate 0 still flips a little: the truncated normal N(0, 0.1) on [0, 1] has mean ~0.08
    assert (noisy0 != labels).mean() < 0.12


def test_instance_dependence_and_seed(tool):
    images, labels = _data()
    a, prob = tool.instance_dependent_noise(images, labels, 0.4, seed=3)
    b, _ = tool.instance_dependent_noise(images, labels, 0.4, seed=3)
    c, _ = tool.instance_dependent_noise(images, labels, 0.4, seed=4)
    assert (a == b).all() and (a != c).any()
    # instance-dependent: samples of one class do not share one flip distribution
    off = prob[labels == 0].copy()
    off[:, 0] = 0
    assert off.argmax(1).std() > 0


def test_truncated_normal_and_errors(tool):
    q = tool.truncated_normal(np.random.default_rng(0), 0.4, 0.1, 10000)
    assert q.min() >= 0 and q.max() <= 1 and abs(q.mean() - 0.4) < 0.01
    with pytest.raises(ValueError, match='rate'):
        tool.instance_dependent_noise(*_data(10), 1.0)


def test_reads_idx_files(tool, fashion_mnist_root):
    labels = tool.read_idx(fashion_mnist_root / 'train-labels-idx1-ubyte')
    assert labels.shape == (60000, ) and labels.max() == 9
