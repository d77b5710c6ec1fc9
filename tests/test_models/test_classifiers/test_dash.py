"""Dash: the threshold schedule, the masked unlabelled loss by hand, the classifier's loss."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmext.models.classifiers.dash import (DashClassifier, DashThreshold, FixedThreshold,
                                           masked_unlabeled_loss)


def _run(selector, n, losses=None):
    """Call ``selector`` for ``n`` iterations on one sample; return its outputs."""
    out = []
    for i in range(n):
        loss = torch.tensor([1.0]) if losses is None else losses[i]
        out.append(selector(torch.zeros(loss.numel()), loss))
    return out


def test_dash_threshold_follows_the_formula():
    sel = DashThreshold(gamma=2.0, C=1.5, rho_min=0.01, epoch_iters=4, warmup_epochs=3,
                        decay_epochs=2, estimate_iters=2)
    # warm-up: iterations 0-11, only the last two (10, 11) feed rho_hat
    losses = [torch.tensor([9., 9.])] * 10 + [torch.tensor([1., 3.]), torch.tensor([2., 2.])]
    warm = _run(sel, 12, losses)
    assert all(m.tolist() == [1., 1.] and info == dict(hard=False) for m, info in warm)
    assert float(sel.rho_hat) == pytest.approx(2.0)  # (1 + 3 + 2 + 2) / 4
    # rho_t = C * gamma^-((t - 1) // decay_epochs) * rho_hat, t = it // epoch_iters
    by_hand = {12: 1.5 * 2.0**-1 * 2, 19: 1.5, 20: 1.5 * 2.0**-2 * 2, 27: 0.75, 28: 0.375,
               44: 1.5 * 2.0**-5 * 2}
    for it, expected in by_hand.items():
        assert sel.threshold(it) == pytest.approx(expected)
    assert sel.threshold(11) is None
    # the mask keeps select losses strictly below the threshold (1.5 at iteration 12)
    mask, info = sel(torch.tensor([1.49, 1.5, 0.2]), torch.zeros(3))
    assert mask.tolist() == [1., 0., 1.] and info == dict(hard=False, threshold=1.5)
    assert int(sel.iter) == 13


def test_dash_threshold_labelled_only_warmup():
    """warmup_unlabeled=False keeps no unlabelled sample in the warm-up; same rho_hat, schedule."""
    kwargs = dict(gamma=2.0, epoch_iters=2, warmup_epochs=2, decay_epochs=1, estimate_iters=2)
    losses = [torch.tensor([5., 5.]), torch.tensor([5., 5.]), torch.tensor([1., 3.]),
              torch.tensor([2., 2.])]
    official, labelled = DashThreshold(**kwargs), DashThreshold(**kwargs, warmup_unlabeled=False)
    warm = _run(labelled, 4, losses)
    assert all(m.tolist() == [0., 0.] and info == dict(hard=False) for m, info in warm)
    _run(official, 4, losses)
    assert float(labelled.rho_hat) == float(official.rho_hat) == pytest.approx(2.0)
    # after the warm-up both select by the same threshold (already rho_hat / gamma, official)
    for sel in (official, labelled):
        mask, info = sel(torch.tensor([0.9, 1.1]), torch.zeros(2))
        assert mask.tolist() == [1., 0.] and info == dict(hard=False, threshold=1.0)
    # and the loss of a warm-up batch is the labelled one only (normalize='kept': 0, not nan)
    sel = DashThreshold(**kwargs, warmup_unlabeled=False)
    loss, mask, _, _ = masked_unlabeled_loss(torch.randn(3, 4), torch.randn(3, 4), sel)
    assert loss.item() == 0. and mask.sum() == 0


def test_dash_threshold_floor_switches_to_hard_labels():
    sel = DashThreshold(gamma=2.0, rho_min=0.3, epoch_iters=1, warmup_epochs=1, decay_epochs=1,
                        estimate_iters=1)
    _run(sel, 1, [torch.tensor([1.0])])  # rho_hat = 1
    assert sel.threshold(2) == pytest.approx(0.5)  # stage (2 - 1) // 1 = 1
    _, info = _run(sel, 2)[-1]
    assert info == dict(hard=False, threshold=0.5)
    _, info = _run(sel, 1)[-1]  # iteration 3: 0.25 -> floored at 0.3, hard labels
    assert info['hard'] and info['threshold'] == pytest.approx(0.3)


def test_dash_threshold_state_resumes_exactly():
    kwargs = dict(gamma=1.27, epoch_iters=3, warmup_epochs=2, decay_epochs=1, estimate_iters=3)
    torch.manual_seed(0)
    losses = [torch.rand(4) * 3 for _ in range(12)]
    a = DashThreshold(**kwargs)
    _run(a, 7, losses)
    b = DashThreshold(**kwargs)
    b.load_state_dict(a.state_dict())
    for loss in losses[7:]:
        ma, ia = a(loss, loss)
        mb, ib = b(loss, loss)
        assert torch.equal(ma, mb) and ia == ib
    assert int(a.iter) == int(b.iter) == 12 and float(a.rho_hat) == float(b.rho_hat) > 0


@pytest.mark.parametrize('kwargs,key', [
    (dict(gamma=1.0), 'selection.gamma'),
    (dict(gamma=0.9), 'selection.gamma'),
    (dict(C=0.), 'selection.C'),
    (dict(rho_min=-0.1), 'selection.rho_min'),
    (dict(warmup_epochs=0), 'selection.warmup_epochs'),
    (dict(decay_epochs=0), 'selection.decay_epochs'),
    (dict(epoch_iters=10, warmup_epochs=1, estimate_iters=11), 'selection.estimate_iters'),
])
def test_dash_threshold_rejects_bad_values(kwargs, key):
    with pytest.raises(ValueError, match=key):
        DashThreshold(**kwargs)


def test_fixed_threshold_rejects_bad_confidence():
    for confidence in (0., 1.5):
        with pytest.raises(ValueError, match='selection.confidence'):
            FixedThreshold(confidence=confidence)


# Hand example: 2 unlabelled images, 3 classes.
#   weak logits   [ln 8, 0, 0] -> p = (.8, .1, .1), select loss -ln .8; sharpened (T = 0.5):
#                 (64, 1, 1) / 66
#                 [0, 0, 0]    -> uniform, pseudo-label 0, select loss ln 3
#   strong logits [0, ln 2, 0] -> q = (1/4, 1/2, 1/4);  [ln 4, 0, 0] -> q = (4/6, 1/6, 1/6)
WEAK = [[math.log(8.), 0., 0.], [0., 0., 0.]]
STRONG = [[0., math.log(2.), 0.], [math.log(4.), 0., 0.]]
SOFT_1 = 64 / 66 * math.log(4) + 1 / 66 * math.log(2) + 1 / 66 * math.log(4)
HARD_1 = math.log(4)


def _logits():
    weak = torch.tensor(WEAK, requires_grad=True)
    strong = torch.tensor(STRONG, requires_grad=True)
    return weak, strong


def test_masked_loss_fixed_threshold_by_hand():
    weak, strong = _logits()
    loss, mask, pseudo, info = masked_unlabeled_loss(weak, strong, FixedThreshold(0.75),
                                                     temperature=0.5, normalize='all')
    # confidence .8 >= .75 kept, 1/3 dropped; hard label 0 -> -ln(1/4); averaged over both
    assert mask.tolist() == [1., 0.] and pseudo.tolist() == [0, 0]
    assert loss.item() == pytest.approx(HARD_1 / 2, rel=1e-6)
    loss.backward()
    assert weak.grad is None  # pseudo-labels carry no gradient
    assert strong.grad[1].abs().sum() == 0 and strong.grad[0].abs().sum() > 0
    loss_kept, *_ = masked_unlabeled_loss(*_logits(), FixedThreshold(0.75), normalize='kept')
    assert loss_kept.item() == pytest.approx(HARD_1, rel=1e-6)


def test_masked_loss_dash_by_hand():
    sel = DashThreshold(rho_min=0.05, epoch_iters=1, warmup_epochs=1, decay_epochs=1,
                        estimate_iters=1)
    weak, strong = _logits()
    # warm-up iteration: both kept, soft loss averaged over the kept ones
    soft_2 = (math.log(6 / 4) + 2 * math.log(6)) / 3
    loss, mask, _, info = masked_unlabeled_loss(weak, strong, sel, temperature=0.5)
    assert mask.tolist() == [1., 1.] and 'threshold' not in info
    assert loss.item() == pytest.approx((SOFT_1 + soft_2) / 2, rel=1e-6)
    assert float(sel.rho_hat) == pytest.approx((SOFT_1 + soft_2) / 2, rel=1e-6)
    # iteration 1: stage 0, rho = rho_hat ~ 1.9: both select losses (.22, 1.10) below it
    sel.rho_hat.fill_(0.5)
    loss, mask, _, info = masked_unlabeled_loss(weak, strong, sel, temperature=0.5)
    assert mask.tolist() == [1., 0.] and info['threshold'] == pytest.approx(0.5)
    assert loss.item() == pytest.approx(SOFT_1, rel=1e-6)  # over the one kept sample
    # nothing kept -> 0 (no division by zero)
    sel.rho_hat.fill_(0.1 * 1.27)  # iteration 2: stage 1 -> 0.1 < .22
    loss, mask, _, _ = masked_unlabeled_loss(weak, strong, sel, temperature=0.5)
    assert mask.sum() == 0 and loss.item() == 0.


def _classifier(**kwargs):
    init_default_scope('mmpretrain')
    return MODELS.build(dict(
        type='mmext.DashClassifier',
        backbone=dict(type='mmext.WideResNet', depth=10, widen_factor=1, in_channels=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64),
        **kwargs))


def _batch(num_labeled=2, num_unlabeled=3, shift=0):
    samples = [DataSample(metainfo=dict(ssl_view='labeled', ssl_index=i)).set_gt_label(i % 3)
               for i in range(num_labeled)]
    for view in ('weak', 'strong'):
        for j in range(num_unlabeled):
            index = 100 + (j + shift if view == 'strong' else j) % num_unlabeled
            samples.append(DataSample(metainfo=dict(ssl_view=view, ssl_index=index))
                           .set_gt_label(j % 3))
    return torch.randn(len(samples), 1, 8, 8), samples


def test_classifier_loss_and_gradients():
    model = _classifier(selection=dict(type='fixed', confidence=1e-6), lambda_u=2.0)
    x, samples = _batch()
    losses = model.loss(x, samples)
    assert {'loss_x', 'loss_u', 'mask_ratio', 'threshold', 'pseudo_acc',
            'kept_pseudo_acc'} <= set(losses)
    assert losses['mask_ratio'].item() == 1.0  # a tiny confidence keeps every sample
    # loss_u is lambda_u times the masked loss of the strong logits of the same forward pass
    model.eval()  # same BN statistics for the reference forward
    losses = model.loss(x, samples)
    logits = model.head(model.extract_feat(x))
    ref, *_ = masked_unlabeled_loss(logits[2:5], logits[5:8], model.selector, 0.5, 'all')
    assert losses['loss_u'].item() == pytest.approx(2.0 * ref.item(), rel=1e-5)
    model.train()
    total = losses['loss_x'] + losses['loss_u']
    total.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_classifier_supervised_batch_and_misaligned_views():
    model = _classifier()
    x, samples = _batch(num_unlabeled=0)
    assert set(model.loss(x, samples)) == {'loss'}
    x, samples = _batch(shift=1)  # strong views of other images than the weak ones
    with pytest.raises(ValueError, match='batch_size'):
        model.loss(x, samples)


def test_classifier_dash_warmup_counts_iterations():
    model = _classifier(selection=dict(type='dash', epoch_iters=1, warmup_epochs=2,
                                       decay_epochs=1, estimate_iters=1))
    for _ in range(3):
        losses = model.loss(*_batch())
    assert int(model.selector.iter) == 3 and float(model.selector.rho_hat) > 0
    assert 'threshold' in losses  # after the two warm-up iterations
    assert {'selector.iter', 'selector.rho_hat'} <= set(model.state_dict())


@pytest.mark.parametrize('kwargs,key', [
    (dict(selection=dict(type='dash', gamma=1.0)), 'selection.gamma'),
    (dict(selection=dict(type='softmatch')), 'selection.type'),
    (dict(lambda_u=-1.), 'lambda_u'),
    (dict(temperature=0.), 'temperature'),
    (dict(normalize='batch'), 'normalize'),
])
def test_classifier_rejects_bad_values(kwargs, key):
    with pytest.raises(ValueError, match=key):
        _classifier(**kwargs)


def test_is_an_image_classifier():
    assert issubclass(DashClassifier, MODELS.get('ImageClassifier'))
