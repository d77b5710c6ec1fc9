import math

import pytest
import torch
import torch.nn.functional as F

from mmext.models.losses import HyP2Loss, hyp2_threshold


def test_threshold_table():
    # values of the official code table (row = bits, column = ceil(log2(classes)))
    assert hyp2_threshold(48, 20) == 0.0
    assert hyp2_threshold(64, 10) == -0.03125
    assert hyp2_threshold(16, 10) == 0.0
    assert hyp2_threshold(16, 2) == -1.0
    assert hyp2_threshold(12, 38) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match='threshold'):
        hyp2_threshold(20, 10)
    with pytest.raises(ValueError, match='threshold'):
        HyP2Loss(num_classes=10, code_length=20)
    assert HyP2Loss(num_classes=10, code_length=20, threshold=0.1).threshold == 0.1


def test_proxy_term_hand_value():
    loss = HyP2Loss(num_classes=2, code_length=2, threshold=0.0, beta=0.)
    with torch.no_grad():
        loss.proxies.copy_(torch.tensor([[1., 0.], [0., 1.]]))
    s = 1 / math.sqrt(2)
    codes = torch.tensor([[1., 0.], [1., 1.]])  # cos to proxies: (1, 0) and (s, s)
    target = torch.tensor([0, 1])
    # positives: 1 - 1 = 0 and 1 - s; negatives: relu(0 - 0) = 0 and relu(s - 0) = s
    expected = (0 + (1 - s)) / 2 + (0 + s) / 2
    assert loss(codes, target).item() == pytest.approx(expected, rel=1e-6)


def test_pair_term_multilabel_hand_value():
    loss = HyP2Loss(num_classes=3, code_length=2, threshold=0.0, beta=0.5)
    with torch.no_grad():
        loss.proxies.copy_(torch.tensor([[1., 0.], [0., 1.], [-1., 0.]]))
    loss_all = HyP2Loss(num_classes=3, code_length=2, threshold=0.0, beta=0.5,
                        pair_multilabel_only=False)
    loss_all.load_state_dict(loss.state_dict())
    codes = torch.tensor([[1., 1.], [1., 1.], [0., 1.]])
    x = F.normalize(codes, dim=1)
    cos = x @ F.normalize(loss.proxies.detach(), dim=1).t()

    def proxy_term(target):
        pos = target.bool()
        return (1 - cos)[pos].mean() + F.relu(cos)[~pos].mean()

    # all samples multi-label and every pair shares a class: no irrelevant pair
    target = torch.tensor([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    assert loss(codes, target).item() == pytest.approx(proxy_term(target).item(), rel=1e-6)
    # sample 0 = {0, 1} shares nothing with samples 1 = {2} and 2 = {2}
    target = torch.tensor([[1, 1, 0], [0, 0, 1], [0, 0, 1]])
    # official behaviour: only sample 0 has > 1 label, so no pair is formed
    assert loss(codes, target).item() == pytest.approx(proxy_term(target).item(), rel=1e-6)
    # with all samples: pairs (0, 1) and (0, 2) (both orders) are irrelevant
    sim = x @ x.t()
    irrelevant = torch.tensor([[0, 1, 1], [1, 0, 0], [1, 0, 0]]).bool()
    expected = proxy_term(target) + 0.5 * F.relu(sim)[irrelevant].mean()
    assert loss_all(codes, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradients_reach_codes_and_proxies():
    loss = HyP2Loss(num_classes=4, code_length=16)
    codes = torch.randn(8, 16, requires_grad=True)
    out = loss(torch.tanh(codes), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    out.backward()
    assert codes.grad.abs().sum() > 0 and loss.proxies.grad.abs().sum() > 0
    half = loss(torch.tanh(codes.detach()).half(), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    assert half.item() == pytest.approx(out.item(), rel=1e-2)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_classes=1, code_length=16), 'num_classes'),
    (dict(num_classes=10, code_length=1), 'code_length'),
    (dict(num_classes=10, code_length=16, beta=-1.), 'beta'),
    (dict(num_classes=10, code_length=16, threshold=1.5), 'threshold'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HyP2Loss(**kwargs)


def test_bad_code_shape():
    with pytest.raises(ValueError, match='codes'):
        HyP2Loss(num_classes=10, code_length=16)(torch.randn(2, 8), torch.tensor([0, 1]))


def test_fp32_under_autocast():
    loss = HyP2Loss(num_classes=10, code_length=32)
    codes, target = torch.tanh(torch.randn(8, 32)), torch.arange(8)
    ref = loss(codes, target)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        amp = loss(codes, target)
    assert amp.dtype == torch.float32 and torch.allclose(amp, ref, atol=1e-6)
