import math

import pytest
import torch
from mmpretrain.structures import DataSample

from mmext.models.heads import AdaNPCHead


def build(**kwargs):
    cfg = dict(num_classes=3, in_channels=2, k=2, temperature=1.0, beta=0.5)
    cfg.update(kwargs)
    return AdaNPCHead(**cfg)


def test_knn_vote_by_hand():
    head = build()
    head.add_to_memory(torch.tensor([[1., 0.], [0., 1.], [-1., 0.]]), torch.tensor([0, 1, 2]))
    # query at 45 degrees: cos 0.7071 to entries 0 and 1, -0.7071 to entry 2 -> the two nearest
    # tie, each gets softmax weight 0.5
    votes = head.knn_scores(torch.tensor([[2., 2.]]))
    assert torch.allclose(votes, torch.tensor([[0.5, 0.5, 0.]]))
    # query at angle 30 degrees: cosines cos30 (label 0) and cos60 (label 1)
    q = torch.tensor([[math.cos(math.pi / 6), math.sin(math.pi / 6)]])
    w0 = math.exp(math.cos(math.pi / 6)) / (math.exp(math.cos(math.pi / 6)) +
                                            math.exp(math.cos(math.pi / 3)))
    assert torch.allclose(head.knn_scores(q), torch.tensor([[w0, 1 - w0, 0.]]), atol=1e-6)
    # a sharp temperature turns the vote into 1-NN
    head.temperature = 1e-3
    assert torch.allclose(head.knn_scores(q), torch.tensor([[1., 0., 0.]]), atol=1e-6)


def test_official_admission_rule_by_hand():
    head = build(beta=0.5)  # 3 classes, official rule: softmax over the vote scores
    votes = torch.tensor([[1., 0., 0.], [0.74, 0.26, 0.], [0.5, 0.5, 0.]])
    conf, pred = head.confidence(votes)
    e = math.exp
    expected = [e(1) / (e(1) + 2 * e(1e-5)),  # vote + 1e-5 clamped at 1
                e(0.74001) / (e(0.74001) + e(0.26001) + e(1e-5)),
                e(0.50001) / (2 * e(0.50001) + e(1e-5))]
    assert torch.allclose(conf, torch.tensor(expected), atol=1e-6)
    assert pred.tolist() == [0, 0, 0]
    # 0.576, 0.477, 0.384: only the first reaches beta = 0.5; the raw vote would admit all three
    assert (conf >= head.beta).tolist() == [True, False, False]
    head.admission = 'vote'
    assert (head.confidence(votes)[0] >= head.beta).tolist() == [True, True, True]
    # with 26 classes even a unanimous vote has confidence e / (e + 25) < 0.1: beta = 0.1
    # admits nothing
    many = AdaNPCHead(num_classes=26, in_channels=2, k=1, beta=0.1)
    conf26 = many.confidence(torch.eye(26)[:1])[0]
    assert torch.allclose(conf26, torch.tensor([e(1) / (e(1) + 25 * e(1e-5))]))
    many.add_to_memory(torch.tensor([[1., 0.]]), torch.tensor([3]))
    many.predict((torch.tensor([[1., 0.]]), ))
    assert many.memory_size == 1


def test_adaptation_adds_confident_test_samples():
    head = build(beta=0.9, admission='vote')
    head.add_to_memory(torch.tensor([[1., 0.], [0.9, 0.1], [0., 1.]]), torch.tensor([0, 0, 1]))
    feats = (torch.tensor([[1., 0.05], [-1., 0.2]]), )
    samples = head.predict(feats, [DataSample(), DataSample()])
    # 'vote' admission: first query, both neighbours say 0 (vote 1.0 >= beta) -> added; second:
    # vote 0.74 -> not
    assert head.memory_size == 4 and head.num_source == 3
    assert head.memory_labels[-1].item() == 0
    assert samples[0].pred_label.item() == 0
    assert torch.allclose(samples[0].pred_score.sum(), torch.tensor(1.))
    head.adapt = False
    head.predict(feats)
    assert head.memory_size == 4
    head.reset_memory()
    assert head.memory_size == 0 and head.num_source == 0


def test_bounded_memory_drops_test_samples_first():
    head = build(max_memory=4)
    head.add_to_memory(torch.randn(3, 2), torch.tensor([0, 1, 2]))
    head.add_to_memory(torch.randn(2, 2), torch.tensor([1, 1]), source=False)
    head.add_to_memory(torch.randn(1, 2), torch.tensor([2]), source=False)
    assert head.memory_size == 4 and head.num_source == 3
    assert head.memory_labels.tolist() == [0, 1, 2, 2]


def test_empty_memory_uses_linear_layer_and_trains():
    head = build()
    feats = (torch.randn(4, 2), )
    samples = head.predict(feats)
    expected = torch.softmax(head.fc(feats[0]), dim=1)
    assert torch.allclose(samples[0].pred_score, expected[0])
    data_samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    head.loss(feats, data_samples)['loss'].backward()
    assert head.fc.weight.grad is not None and head.fc.bias.grad is not None


def test_errors():
    with pytest.raises(ValueError, match='"k" must be an int >= 1'):
        build(k=0)
    with pytest.raises(ValueError, match='"temperature" must be > 0'):
        build(temperature=0.)
    with pytest.raises(ValueError, match='"max_memory"'):
        build(max_memory=1)
    with pytest.raises(ValueError, match='"admission"'):
        build(admission='max')
    head = build(k=5)
    head.add_to_memory(torch.randn(3, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r'"k" \(5\) must be <= the memory size \(3\)'):
        head.predict((torch.randn(1, 2), ))
    with pytest.raises(ValueError, match=r'memory features must be \(N, 2\)'):
        head.add_to_memory(torch.randn(3, 4), torch.tensor([0, 1, 2]))
