import pytest
import torch
import torch.nn.functional as F

from mmext.models.losses import (DistributionCalibrationLoss, agnostic_mean,
                                 calibrated_gaussian)


def _contaminated(n=400, d=8, frac=0.2, shift=6., seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    k = int(frac * n)
    # mislabelled samples: a cluster far away along one direction
    x[:k] += shift * F.normalize(torch.ones(d), dim=0)
    return x


def test_agnostic_mean_is_robust():
    x = _contaminated()
    naive_err = x.mean(0).norm()
    robust_err = agnostic_mean(x).norm()
    assert naive_err > 1.0  # 20% at distance 6 shifts the mean by ~1.2
    assert robust_err < 0.5 * naive_err


def test_agnostic_mean_exact_cases():
    # 1-D: the median
    assert agnostic_mean(torch.tensor([[1.], [2.], [100.]])).item() == 2.
    # identical points: that point
    x = torch.tensor([[1., -2., 3.]]).repeat(5, 1)
    assert torch.allclose(agnostic_mean(x), x[0], atol=1e-5)
    # clean Gaussian: close to the sample mean
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 4, generator=g) + torch.tensor([1., 2., 3., 4.])
    assert torch.allclose(agnostic_mean(x), x.mean(0), atol=0.1)


def test_calibrated_gaussian_covariance_disturbance():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, 5, generator=g)
    mean, sqrt_cov = calibrated_gaussian(x, mode='covariance', alpha=0.3)
    assert torch.allclose(mean, x.mean(0))
    expected = torch.cov(x.t()) + 0.3 * torch.ones(5, 5)
    assert torch.allclose(sqrt_cov @ sqrt_cov.t(), expected, atol=1e-5)
    mean, sqrt_cov = calibrated_gaussian(x, mode='mean')
    xc = x - agnostic_mean(x)
    assert torch.allclose(sqrt_cov @ sqrt_cov.t(), xc.t() @ xc / 49, atol=1e-5)
    with pytest.raises(ValueError, match='mode'):
        calibrated_gaussian(x, mode='median')


def test_sampling_follows_the_gaussian():
    loss = DistributionCalibrationLoss(num_samples=20000)
    means = torch.tensor([[0., 0.], [5., -5.]])
    sqrt = torch.stack([torch.eye(2), torch.tensor([[2., 0.], [1., 1.]])])
    feats, idx = loss.sample(means, sqrt, generator=torch.Generator().manual_seed(0))
    assert feats.shape == (40000, 2) and idx.tolist()[:1] == [0] and idx[-1] == 1
    second = feats[idx == 1]
    assert torch.allclose(second.mean(0), means[1], atol=0.05)
    assert torch.allclose(torch.cov(second.t()), sqrt[1] @ sqrt[1].t(), atol=0.1)


def test_loss_value():
    g = torch.Generator().manual_seed(3)
    score, target = torch.randn(6, 4, generator=g), torch.tensor([0, 1, 2, 3, 0, 1])
    s_score, s_target = torch.randn(8, 4, generator=g), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = DistributionCalibrationLoss(sample_weight=0.5, loss_weight=2.)
    expected = 2. * (F.cross_entropy(score, target) + 0.5 * F.cross_entropy(s_score, s_target))
    assert torch.allclose(loss(score, target, s_score, s_target), expected)
    # no sampled features yet (warm-up): plain cross-entropy
    assert torch.allclose(loss(score, target), 2. * F.cross_entropy(score, target))
    assert torch.isfinite(loss(score.half() * 100, target, s_score.half() * 100, s_target))


@pytest.mark.parametrize('kwargs, match', [
    (dict(mode='median'), 'mode'),
    (dict(alpha=-1.), 'alpha'),
    (dict(num_samples=0), 'num_samples'),
    (dict(sample_weight=-1.), 'sample_weight'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DistributionCalibrationLoss(**kwargs)
