import math

import pytest
import torch
import torch.nn as nn

from mmext.models.losses import ChannelWiseDivergence, MGDLoss


def _identity_generation(loss: MGDLoss) -> None:
    """Make the generation block the identity so the loss can be hand-computed."""
    for conv in (loss.generation[0], loss.generation[2]):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
        conv.weight.data[range(conv.out_channels), range(conv.in_channels), 1, 1] = 1.0


def test_mgd_hand_computed_without_mask():
    loss = MGDLoss(2, 2, alpha_mgd=0.5, lambda_mgd=0.0)
    _identity_generation(loss)
    s = torch.ones(2, 2, 3, 3)  # ReLU keeps positives
    t = torch.zeros(2, 2, 3, 3)
    # sum of squared errors = 2 * 2 * 3 * 3 = 36, / N=2 * alpha 0.5 = 9
    assert loss(s, t).item() == pytest.approx(9.0)


@pytest.mark.parametrize('mask_type', ['spatial', 'channel'])
def test_mgd_mask_ratio_and_pattern(mask_type):
    torch.manual_seed(0)
    loss = MGDLoss(8, 8, lambda_mgd=0.65, mask_type=mask_type)
    keep = loss.random_keep_mask(torch.zeros(64, 8, 16, 16))
    assert keep.shape == ((64, 1, 16, 16) if mask_type == 'spatial' else (64, 8, 1, 1))
    assert 1 - keep.mean().item() == pytest.approx(0.65, abs=0.03)
    # masked student positions give no gradient to the student
    _identity_generation(loss)
    s = torch.rand(2, 8, 4, 4, requires_grad=True)
    torch.manual_seed(1)
    loss(s, torch.zeros(2, 8, 4, 4)).backward()
    torch.manual_seed(1)
    mask = loss.random_keep_mask(s)
    assert torch.all((s.grad == 0) | (mask.expand_as(s) == 1))
    assert torch.all(s.grad[mask.expand_as(s) == 1] != 0)


def test_mgd_connector_and_gradients():
    loss = MGDLoss(4, 6, alpha_mgd=2e-5, lambda_mgd=0.65)
    assert isinstance(loss.align, nn.Conv2d)
    s = torch.randn(2, 4, 5, 5, requires_grad=True)
    t = torch.randn(2, 6, 5, 5, requires_grad=True)
    out = loss(s, t)
    out.backward()
    assert s.grad is not None and t.grad is None
    assert all(p.grad is not None for p in loss.parameters())


def test_mgd_errors():
    with pytest.raises(ValueError, match='lambda_mgd'):
        MGDLoss(4, 4, lambda_mgd=1.0)
    with pytest.raises(ValueError, match='mask_type'):
        MGDLoss(4, 4, mask_type='pixel')
    loss = MGDLoss(4, 8)
    with pytest.raises(ValueError, match=r'student \(2, 4, 5, 5\), teacher \(2, 8, 4, 4\)'):
        loss(torch.randn(2, 4, 5, 5), torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match='student_channels=4'):
        loss(torch.randn(2, 3, 5, 5), torch.randn(2, 8, 5, 5))


def test_cwd_hand_computed():
    # N=1, C=2, H*W=2, tau=1. Channel 0: student (0, 0) -> (1/2, 1/2), teacher (log 3, 0) ->
    # (3/4, 1/4): KL = 3/4 log(3/2) + 1/4 log(1/2). Channel 1 identical maps: KL = 0.
    s = torch.tensor([[[[0.0, 0.0]], [[1.0, 2.0]]]])
    t = torch.tensor([[[[math.log(3), 0.0]], [[1.0, 2.0]]]])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert ChannelWiseDivergence(tau=1.0)(s, t).item() == pytest.approx(kl / 2, rel=1e-5)
    # tau^2 scaling with tau = 4 and a reference
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    p_t = torch.softmax(t.flatten(2) / 4, -1)
    ref = (p_t * (p_t.log() - torch.log_softmax(s.flatten(2) / 4, -1))).sum() * 16 / 6
    assert ChannelWiseDivergence(tau=4.0)(s, t).item() == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 5\).*\(2, 3, 4, 4\)'):
        ChannelWiseDivergence()(s, t[..., :4])
