import math

import pytest
import torch
import torch.nn.functional as F

from mmext.models.losses import SoftTripleLoss
from mmext.registry import MODELS


def _unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def _reference(emb, centers, target, C, K, la, gamma, tau, margin):
    """Loop-by-loop SoftTriple as written in the paper (Eq. 8-10)."""
    total = 0.
    for i in range(emb.size(0)):
        logits = []
        for c in range(C):
            s = [float(emb[i] @ centers[c * K + k]) for k in range(K)]
            z = sum(math.exp(v / gamma) for v in s)
            sc = sum(math.exp(v / gamma) / z * v for v in s)
            logits.append(la * (sc - (margin if c == int(target[i]) else 0.)))
        m = max(logits)
        lse = m + math.log(sum(math.exp(v - m) for v in logits))
        total += lse - logits[int(target[i])]
    loss = total / emb.size(0)
    if K > 1:
        reg = 0.
        for c in range(C):
            for a in range(K):
                for b in range(a + 1, K):
                    sim = float(centers[c * K + a] @ centers[c * K + b])
                    reg += math.sqrt(2. + 1e-5 - 2. * sim)
        loss += tau * reg / (C * K * (K - 1))
    return loss


def test_matches_reference():
    C, K, D = 3, 4, 8
    emb, centers = _unit(5, D, seed=1), _unit(C * K, D, seed=2)
    target = torch.tensor([0, 2, 1, 1, 0])
    loss = SoftTripleLoss(num_classes=C, num_centers=K)(emb, centers, target)
    ref = _reference(emb, centers, target, C, K, 20., 0.1, 0.2, 0.01)
    assert loss.item() == pytest.approx(ref, rel=1e-5)


def test_one_center_is_normalized_softmax_with_margin():
    C, D = 4, 6
    emb, centers = _unit(7, D, seed=3), _unit(C, D, seed=4)
    target = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    loss = SoftTripleLoss(num_classes=C, num_centers=1, la=16., margin=0.1)(emb, centers, target)
    cos = emb @ centers.t()
    expected = F.cross_entropy(16. * (cos - 0.1 * F.one_hot(target, C)), target)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_regularizer_hand_value():
    # two classes, two orthogonal centers each: every pair is sqrt(2 + 1e-5) apart
    centers = torch.eye(4)
    loss = SoftTripleLoss(num_classes=2, num_centers=2)
    expected = 2 * math.sqrt(2 + 1e-5) / (2 * 2 * 1)
    assert loss.regularizer(centers).item() == pytest.approx(expected, rel=1e-6)
    # merged centers cost (almost) nothing
    merged = torch.tensor([[1., 0.], [1., 0.], [0., 1.], [0., 1.]])
    assert loss.regularizer(merged).item() == pytest.approx(2 * math.sqrt(1e-5) / 4, rel=1e-3)


def test_gradients_and_low_precision():
    C, K, D = 3, 2, 8
    emb = _unit(6, D, seed=5).requires_grad_()
    centers = _unit(C * K, D, seed=6).requires_grad_()
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    loss_fn = MODELS.build(dict(type='SoftTripleLoss', num_classes=C, num_centers=K))
    loss = loss_fn(emb, centers, target)
    loss.backward()
    assert emb.grad.abs().sum() > 0 and centers.grad.abs().sum() > 0
    low = loss_fn(emb.detach().half(), centers.detach().half(), target)
    assert torch.isfinite(low) and low.dtype == torch.float32
    assert low.item() == pytest.approx(loss.item(), rel=1e-2)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_classes=3, num_centers=0), 'num_centers'),
    (dict(num_classes=1), 'num_classes'),
    (dict(num_classes=3, gamma=0.), 'gamma'),
    (dict(num_classes=3, la=-1.), 'la'),
    (dict(num_classes=3, tau=-0.1), 'tau'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoftTripleLoss(**kwargs)


def test_bad_centers_shape():
    loss = SoftTripleLoss(num_classes=3, num_centers=2)
    with pytest.raises(ValueError, match='centers'):
        loss(_unit(2, 4), _unit(5, 4), torch.tensor([0, 1]))


def test_fp32_under_autocast():
    C, K, D = 3, 2, 8
    emb, centers = _unit(6, D, seed=7), _unit(C * K, D, seed=8)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    loss_fn = SoftTripleLoss(num_classes=C, num_centers=K)
    ref = loss_fn(emb, centers, target)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        amp = loss_fn(emb, centers, target)
    assert amp.dtype == torch.float32 and torch.allclose(amp, ref, atol=1e-6)
