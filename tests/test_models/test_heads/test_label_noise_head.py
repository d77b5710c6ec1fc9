import pytest
import torch
import torch.nn.functional as F

from mmext.models.heads import DistributionCalibrationHead

# sibling module of this file (pytest puts this folder on sys.path)
from _head_checks import build_cifar_classifier
from _head_checks import samples as _samples


def _head(**kwargs):
    cfg = dict(num_classes=2, in_channels=3, memory_size=8, warmup_iters=1, calib_interval=2,
               correct_thr=0.5, min_count=4,
               loss=dict(type='mmext.DistributionCalibrationLoss', mode='covariance',
                         alpha=0.1, num_samples=5))
    cfg.update(kwargs)
    return DistributionCalibrationHead(**cfg)


def test_label_correction_rule():
    head = _head()
    score = torch.log(torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]))
    # gap p(pred) - p(label): 0.8 -> relabel, 0.2 -> keep, 0.0 -> keep
    out = head.correct_labels(score, torch.tensor([1, 1, 1]))
    assert out.tolist() == [0, 1, 1]
    assert _head(correct_thr=None).correct_labels(score, torch.tensor([1, 1, 1])).tolist() == \
        [1, 1, 1]


def test_memory_fifo():
    head = _head(memory_size=4)
    head.enqueue(torch.arange(18.).reshape(6, 3), torch.tensor([0, 0, 0, 1, 0, 0]))
    assert head.mem_count.tolist() == [4, 1]
    # class 0 received rows 0, 1, 2, 4, 5 -> the last four in a ring of size 4
    assert sorted(head.memory[0, :, 0].tolist()) == [3., 6., 12., 15.]
    head.enqueue(torch.full((1, 3), -1.), torch.tensor([0]))
    assert -1. in head.memory[0, :, 0].tolist() and 3. not in head.memory[0, :, 0].tolist()


def test_warmup_then_calibrated_sampling():
    torch.manual_seed(0)
    head = _head()
    x = torch.cat([torch.randn(6, 3) + 3, torch.randn(6, 3) - 3])
    labels = torch.tensor([0] * 6 + [1] * 6)
    # iteration 0: warm-up -> plain cross-entropy, memory takes every sample
    loss = head.loss((x, ), _samples(labels))['loss']
    assert torch.allclose(loss, F.cross_entropy(head.fc(x), labels))
    assert head.mem_count.tolist() == [6, 6] and not head.calib_valid.any()
    # iteration 1: calibration from memory, sampled features join the loss
    torch.manual_seed(1)
    loss = head.loss((x, ), _samples(labels))['loss']
    assert head.calib_valid.all()
    mean0, sqrt0 = head.loss_module.calibrate(head.memory[0, :int(head.mem_count[0])])
    assert torch.allclose(head.calib_mean[0], mean0)
    assert not torch.allclose(loss, F.cross_entropy(head.fc(x), head.correct_labels(
        head.fc(x), labels)))
    loss.backward()
    assert head.fc.weight.grad.abs().sum() > 0


def test_in_image_classifier_mean_mode():
    model = build_cifar_classifier(
        dict(type='mmext.DistributionCalibrationHead', num_classes=10, in_channels=64,
             memory_size=16, warmup_iters=1, calib_interval=1, min_count=2,
             loss=dict(type='mmext.DistributionCalibrationLoss', mode='mean')))
    x = torch.randn(8, 1, 28, 28)
    labels = [0, 1, 2, 3, 0, 1, 2, 3]
    for _ in range(3):
        loss = model(x, _samples(labels), mode='loss')['loss']
        assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.backbone.parameters() if p.requires_grad)
    preds = model(x, _samples(labels), mode='predict')
    assert preds[0].pred_score.shape == (10, )


@pytest.mark.parametrize('kwargs, match', [
    (dict(memory_size=1), 'memory_size'),
    (dict(min_count=9), 'min_count'),
    (dict(calib_interval=0), 'calib_interval'),
    (dict(correct_thr=1.5), 'correct_thr'),
    (dict(warmup_iters=-1), 'warmup_iters'),
    (dict(loss=dict(type='mmext.DistributionCalibrationLoss', mode='x')), 'mode'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _head(**kwargs)


def test_autocast_step():
    head = _head(warmup_iters=0, calib_interval=1, min_count=2)
    x = torch.randn(8, 3)
    labels = torch.tensor([0, 1] * 4)
    head.enqueue(x, labels)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        loss = head.loss((x, ), _samples(labels))['loss']
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and head.calib_valid.all()
