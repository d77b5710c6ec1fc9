import pytest
import torch
import torch.nn as nn

from mmext.models.losses import ViTKDLoss


def _maps(b, n, d, extra=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, extra + n, d, generator=g) for _ in range(3)]


def test_vitkd_hand_computed_equal_dims():
    loss = ViTKDLoss(4, 4, alpha_vitkd=1.0, beta_vitkd=1.0, lambda_vitkd=0.5)
    assert isinstance(loss.align_gen, nn.Identity)
    for conv in (loss.generation[0], loss.generation[2]):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    s = [torch.ones(2, 1 + 4, 4) for _ in range(3)]
    t = [torch.zeros(2, 1 + 4, 4) for _ in range(3)]
    t[0][:, 0] = 100.0  # the class token is dropped and never compared
    out = loss(s, t)
    # mimic: 2 maps * 2 * 4 * 4 ones = 64, / B=2 -> 32
    assert out['mimic'].item() == pytest.approx(32.0)
    # generation outputs 0 = teacher -> 0
    assert out['generation'].item() == pytest.approx(0.0)
    # teacher of ones on the generated map: exactly 2 of 4 tokens masked per sample ->
    # 2 * 2 * 4 = 16 squared errors, / B=2 / lambda=0.5 -> 16
    t[2] = torch.ones(2, 5, 4)
    assert loss(s, t)['generation'].item() == pytest.approx(16.0)


def test_vitkd_mask_exact_count():
    loss = ViTKDLoss(8, 8, lambda_vitkd=0.5)
    mask = loss.random_mask(3, 196, torch.device('cpu'))
    assert mask.shape == (3, 196, 1)
    assert mask.sum(dim=1).flatten().tolist() == [98.0] * 3


def test_vitkd_gradients_reach_every_parameter():
    loss = ViTKDLoss(6, 10)
    s = [m.requires_grad_() for m in _maps(2, 16, 6)]
    t = _maps(2, 16, 10, seed=1)
    out = loss(s, t)
    sum(out.values()).backward()
    for name, p in loss.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(m.grad is not None for m in s)


def test_vitkd_errors():
    with pytest.raises(ValueError, match='lambda_vitkd'):
        ViTKDLoss(4, 4, lambda_vitkd=1.0)
    loss = ViTKDLoss(6, 10)
    with pytest.raises(ValueError, match='square patch grid'):
        loss(_maps(2, 15, 6), _maps(2, 15, 10))
    with pytest.raises(ValueError, match=r'student \(2, 17, 6\), teacher \(2, 10, 10\)'):
        loss(_maps(2, 16, 6), _maps(2, 9, 10))
    with pytest.raises(ValueError, match='expects 3 token maps'):
        loss(_maps(2, 16, 6)[:2], _maps(2, 16, 10))
