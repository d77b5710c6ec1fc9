import pytest
import torch

import mmext  # noqa: F401
from mmext.engine.hooks import GaPHook
from mmext.engine.hooks.gap_hook import magnitude_mask, random_mask

from _compression_helpers import FakeRunner, tiny_classifier

PARTS = [r'backbone\.layer1\..*conv[12]', r'backbone\.layer2\..*conv[12]']


def _sparsity(layer):
    return float((layer.weight == 0).float().mean())


def test_magnitude_mask_exact_count():
    w = torch.tensor([0.1, -3.0, 0.5, 2.0, -0.2])
    assert magnitude_mask(w, 0.6).tolist() == [False, True, False, True, False]


def test_initial_masks_random_by_default():
    # official: int(numel * (1 - sparsity)) weights kept uniformly at random
    torch.manual_seed(0)
    w = torch.randn(7, 5, 3, 3)
    m = random_mask(w, 0.8)
    assert int(m.sum()) == int(w.numel() * (1 - 0.8)) == 62
    assert not torch.equal(m, magnitude_mask(w, 0.8))
    # the sparse partition at the start (layer2) gets a random mask, or the magnitude one
    for init in ('random', 'magnitude'):
        torch.manual_seed(0)
        model = tiny_classifier()
        l2 = model.backbone.layer2[0].conv2
        w0 = l2.weight.detach().clone()
        GaPHook(partitions=PARTS, sparsity=0.75, init_mask=init).before_train(
            FakeRunner(model, max_epochs=5))
        kept = l2.weight != 0
        assert int(kept.sum()) == int(w0.numel() * 0.25)
        assert torch.equal(kept, magnitude_mask(w0, 0.75)) == (init == 'magnitude')
    with pytest.raises(ValueError, match='"init_mask"'):
        GaPHook(partitions=PARTS, init_mask='zeros')


def test_gap_grows_one_partition_at_a_time_then_prunes_all():
    model = tiny_classifier()
    runner = FakeRunner(model, max_epochs=5, iters_per_epoch=3)
    hook = GaPHook(partitions=PARTS, sparsity=0.75, interval=1, end=4)
    l1, l2 = model.backbone.layer1[0].conv1, model.backbone.layer2[0].conv2
    hook.before_train(runner)
    # epoch 0: partition 0 dense, partition 1 pruned
    assert _sparsity(l1) == 0 and _sparsity(l2) == pytest.approx(0.75, abs=1e-3)
    runner.step()
    hook.after_train_iter(runner, 0)
    assert _sparsity(l2) == pytest.approx(0.75, abs=1e-3)  # masks survive the SGD step
    hook.after_train_epoch(runner)
    runner.epoch = 1
    # epoch 1: partition 0 pruned back, partition 1 grown
    assert hook.dense == 1
    assert _sparsity(l1) == pytest.approx(0.75, abs=1e-3)
    runner.step()
    hook.after_train_iter(runner, 0)
    assert _sparsity(l2) < 0.5  # grown weights train again
    runner2 = FakeRunner(tiny_classifier(), max_epochs=5, iters_per_epoch=2)
    hook2 = GaPHook(partitions=PARTS, sparsity=[0.5, 0.9], interval=1, end=4)
    runner2.train(hook2)
    report = hook2.sparsity_report()
    model2 = runner2.model
    assert report['backbone.layer1.0.conv1'] == pytest.approx(0.5, abs=1e-3)
    assert report['backbone.layer2.0.conv2'] == pytest.approx(0.9, abs=1e-2)
    assert _sparsity(model2.backbone.conv1) == 0  # not in any partition: untouched


def test_gap_end_equal_to_training_length_still_ends_sparse():
    runner = FakeRunner(tiny_classifier(), max_epochs=2, iters_per_epoch=2)
    hook = GaPHook(partitions=PARTS, sparsity=0.8, interval=1, end=2)
    runner.train(hook)
    assert all(v >= 0.79 for v in hook.sparsity_report().values())


def test_gap_bad_config():
    with pytest.raises(ValueError, match='"sparsity" must be in \\[0, 1\\)'):
        GaPHook(partitions=PARTS, sparsity=1.0)
    with pytest.raises(ValueError, match='"sparsity" must be in \\[0, 1\\)'):
        GaPHook(partitions=PARTS, sparsity=[0.5, -0.1])
    with pytest.raises(ValueError, match='matches no'):
        GaPHook(partitions=[r'backbone\.layer7\..*']).before_train(FakeRunner(tiny_classifier()))
    with pytest.raises(ValueError, match='is in partitions'):
        GaPHook(partitions=[r'backbone\.layer1\..*', r'backbone\.layer1\.0\.conv1']
                ).before_train(FakeRunner(tiny_classifier()))
