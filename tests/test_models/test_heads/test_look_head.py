"""mmext.LOOKHead (mmext/models/heads/look_head.py): memory bank, leave-one-out, training."""
import pytest
import torch
import torch.nn.functional as F

from mmext.models.heads import LOOKHead
from mmext.models.losses.look import leave_one_out_knn_loss

# sibling module of this file (pytest puts this folder on sys.path)
from _head_checks import build_cifar_classifier, check_loss_trains
from _head_checks import samples as _labels_only


def _samples(labels, idx):
    out = _labels_only(labels)
    for s, i in zip(out, idx):
        s.set_metainfo(dict(sample_idx=int(i)))
    return out


def _head(**kwargs):
    cfg = dict(num_classes=3, in_channels=6, memory_size=10, embed_dims=4,
               loss=dict(type='mmext.LOOKLoss', k=3, temperature=0.2))
    cfg.update(kwargs)
    return LOOKHead(**cfg)


def test_loss_is_leave_one_out_over_bank_and_live_batch():
    torch.manual_seed(0)
    head = _head()
    # fill the bank with 6 samples, then train on a batch holding two of them (slots 1, 4)
    head.loss((torch.randn(6, 6), ), _samples([0, 1, 2, 0, 1, 2], range(6)))
    bank, bank_labels = head.memory.clone(), head.memory_labels.clone()
    assert bank_labels.tolist() == [0, 1, 2, 0, 1, 2, -1, -1, -1, -1]
    feats = torch.randn(2, 6)
    loss = head.loss((feats, ), _samples([1, 0], [1, 4]))['loss']
    # reference: bank without the batch's stale slots + the live batch, each query without itself
    emb = F.normalize(head.proj(feats), dim=1)
    hidden = bank_labels.clone()
    hidden[[1, 4]] = -1
    ref = leave_one_out_knn_loss(emb, torch.tensor([1, 0]), torch.cat([bank, emb]),
                                 torch.cat([hidden, torch.tensor([1, 0])]), 3, 3, 0.2,
                                 torch.tensor([10, 11])).mean()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    # the batch was written with momentum 0.5 into its slots (labels replaced)
    expected = F.normalize(0.5 * bank[[1, 4]] + 0.5 * emb.detach(), dim=1)
    assert torch.allclose(head.memory[[1, 4]], expected, atol=1e-6)
    assert head.memory_labels[[1, 4]].tolist() == [1, 0]


def test_loss_without_live_batch_uses_the_bank_minus_own_slot():
    torch.manual_seed(1)
    head = _head(live_batch=False, memory_momentum=0.)
    head.loss((torch.randn(6, 6), ), _samples([0, 1, 2, 0, 1, 2], range(6)))
    bank, bank_labels = head.memory.clone(), head.memory_labels.clone()
    feats = torch.randn(2, 6)
    loss = head.loss((feats, ), _samples([0, 2], [0, 5]))['loss']
    emb = F.normalize(head.proj(feats), dim=1)
    ref = leave_one_out_knn_loss(emb, torch.tensor([0, 2]), bank, bank_labels, 3, 3, 0.2,
                                 torch.tensor([0, 5])).mean()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    # momentum 0 replaces the slots
    assert torch.allclose(head.memory[[0, 5]], emb.detach(), atol=1e-6)


def test_first_batch_learns_from_itself():
    head = _head(embed_dims=None, in_channels=2)
    # two same-class samples and nothing in the bank: each is the other's only neighbour
    feats = torch.tensor([[1., 0.], [0.8, 0.6]])
    assert head.loss((feats, ), _samples([2, 2], [3, 7]))['loss'].item() == \
        pytest.approx(0., abs=1e-6)
    # a lone sample has no neighbour at all: zero loss, no NaN
    head = _head(embed_dims=None, in_channels=2)
    loss = head.loss((feats[:1], ), _samples([2], [0]))['loss']
    assert loss.item() == 0.


def test_trains_and_predicts_from_the_bank():
    torch.manual_seed(0)
    head = _head(cal_acc=True)
    feats = (torch.randn(9, 6), )
    data = _samples([0, 1, 2] * 3, range(9))
    check_loss_trains(head, feats, data)
    assert 'accuracy_top-1' in head.loss(feats, data)
    head.eval()
    out = head.predict(feats)
    assert out[0].pred_score.shape == (3, )
    assert torch.allclose(torch.stack([s.pred_score for s in out]).sum(1), torch.ones(9))


def test_empty_bank_predicts_uniformly():
    scores = _head()((torch.randn(2, 6), ))
    assert torch.allclose(scores, torch.full((2, 3), 1 / 3))


def test_mlp_projection_and_image_classifier():
    head = _head(in_channels=64, embed_dims=8, hid_channels=16)
    assert [m.__class__.__name__ for m in head.proj] == ['Linear', 'ReLU', 'Linear']
    model = build_cifar_classifier(
        dict(type='mmext.LOOKHead', num_classes=4, in_channels=64, memory_size=8,
             embed_dims=16))
    x = torch.randn(4, 1, 28, 28)
    losses = model(x, _samples([0, 1, 0, 1], [0, 1, 2, 3]), mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_sample_index_errors():
    head = _head()
    with pytest.raises(KeyError, match='sample_idx'):
        head.loss((torch.randn(2, 6), ), _labels_only([0, 1]))
    with pytest.raises(ValueError, match='memory_size'):
        head.loss((torch.randn(2, 6), ), _samples([0, 1], [3, 10]))


@pytest.mark.parametrize('kwargs, match', [
    (dict(memory_size=1), 'memory_size'),
    (dict(memory_momentum=1.), 'memory_momentum'),
    (dict(embed_dims=0), 'embed_dims'),
    (dict(hid_channels=0), 'hid_channels'),
    (dict(num_classes=1), 'num_classes'),
    (dict(loss=dict(type='mmext.LOOKLoss', num_classes=4)), 'num_classes'),
    (dict(loss=dict(type='mmext.LOOKLoss', k=0)), '"k"'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _head(**kwargs)
