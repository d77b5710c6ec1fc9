import pytest
import torch
from mmpretrain.structures import DataSample

from mmext.models.heads import HashingHead
from mmext.models.losses import HyP2Loss

# sibling module of this file (pytest puts this folder on sys.path)
from _head_checks import build_cifar_classifier, check_loss_trains
from _head_checks import samples as _samples


def test_loss_feeds_raw_codes_and_trains():
    torch.manual_seed(0)
    head = HashingHead(num_classes=4, in_channels=10, code_length=16, hidden_dims=12)
    # 16 bits, 4 classes -> zeta = -0.25 (official code table)
    assert isinstance(head.loss_module, HyP2Loss) and head.loss_module.threshold == -0.25
    feats = (torch.randn(8, 10), )
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    # official: the loss sees the hash layer's output unsquashed, so its gradient w.r.t. the
    # output is the loss's own gradient at that output
    codes = head(feats).detach().mul(4).requires_grad_()  # large outputs: tanh would saturate
    head.hash_layer[-1].weight.data.mul_(4)
    head.hash_layer[-1].bias.data.mul_(4)
    out = head(feats)
    out.retain_grad()
    loss = head.loss_module(out, labels)
    assert torch.allclose(head.loss(feats, _samples(labels))['loss'], loss)
    ref = head.loss_module(codes, labels)
    ref.backward()
    loss.backward()
    assert torch.allclose(out.grad, codes.grad, atol=1e-6)
    # the squashed variant is an option and gives another gradient direction
    squashed = torch.tanh(codes.detach()).requires_grad_()
    head.tanh_relax = True
    assert torch.allclose(head.loss(feats, _samples(labels))['loss'],
                          head.loss_module(squashed, labels))
    head.loss_module(squashed, labels).backward()
    cos = torch.nn.functional.cosine_similarity(
        squashed.grad.flatten() * (1 - squashed.detach().flatten()**2), codes.grad.flatten(),
        dim=0)
    assert cos < 0.99
    head.tanh_relax = False
    check_loss_trains(head, feats, _samples(labels))


def test_predict_binary_codes():
    head = HashingHead(num_classes=10, in_channels=6, code_length=32)
    out = head.predict((torch.randn(3, 6), ))
    for s in out:
        assert s.hash_code.shape == (32, )
        assert set(s.hash_code.unique().tolist()) <= {-1.0, 1.0}
    assert HashingHead.binarize(torch.tensor([0., -0.5, 2.])).tolist() == [1., -1., 1.]


def test_multilabel_gt_score():
    head = HashingHead(num_classes=3, in_channels=4, code_length=16)
    samples = [DataSample().set_gt_label([0, 2]).set_gt_score(torch.tensor([1., 0., 1.])),
               DataSample().set_gt_label([1]).set_gt_score(torch.tensor([0., 1., 0.]))]
    assert torch.isfinite(head.loss((torch.randn(2, 4), ), samples)['loss'])


def test_in_image_classifier():
    model = build_cifar_classifier(
        dict(type='mmext.HashingHead', num_classes=10, in_channels=64, code_length=48))
    x = torch.randn(4, 1, 28, 28)
    assert torch.isfinite(model(x, _samples([0, 1, 2, 3]), mode='loss')['loss'])
    assert model(x, _samples([0, 1, 2, 3]), mode='predict')[0].hash_code.shape == (48, )


@pytest.mark.parametrize('kwargs, match', [
    (dict(code_length=1), 'code_length'),
    (dict(loss=dict(type='mmext.HyP2Loss', code_length=32)), 'code_length'),
    (dict(loss=dict(type='mmext.HyP2Loss', num_classes=5)), 'num_classes'),
    (dict(code_length=20), 'threshold'),
])
def test_bad_config(kwargs, match):
    cfg = dict(num_classes=10, in_channels=8, code_length=16)
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=match):
        HashingHead(**cfg)
