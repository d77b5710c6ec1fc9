import copy
import math

import pytest
import torch

import mmext  # noqa: F401
from mmext.engine.hooks import CHEXHook
from mmext.engine.hooks.chex_hook import (allocate_channels, leverage_scores,
                                          regrow_probabilities)
from mmext.models.layers.channel_pruning import channel_masks_from_weights, prune_channels

from _compression_helpers import FakeRunner, tiny_classifier

# the tiny classifier's block-internal groups: layer1 conv1 (8 channels), layer2 conv1 (16)
G1, G2 = 'backbone.layer1.0.conv1', 'backbone.layer2.0.conv1'


def test_schedule_interval_and_cosine_regrow_ratio():
    hook = CHEXHook(channel_sparsity=0.5, init_channel_ratio=0.2, interval=2, end=6)
    # official: epochs 1..T_max that are multiples of delta_T
    assert [t for t in range(10) if hook.is_update_step(t)] == [2, 4, 6]
    assert hook.regrow_ratio(0) == pytest.approx(0.2)
    assert hook.regrow_ratio(2) == pytest.approx(0.2 * 0.75)  # (1 + cos(pi / 3)) / 2
    assert hook.regrow_ratio(4) == pytest.approx(0.2 * 0.25)
    assert hook.regrow_ratio(6) == pytest.approx(0.0, abs=1e-12)  # exploration ends


def test_leverage_scores_hand_made_matrix():
    # columns = channels: f0 = (3, 1, 0), f1 = (3, -1, 0), f2 = (0, 0, 2);
    # x^T x = [[10, 8, 0], [8, 10, 0], [0, 0, 4]]: right singular vectors (1, 1, 0) / sqrt 2
    # (sigma^2 = 18), (0, 0, 1) (4), (1, -1, 0) / sqrt 2 (2)
    x = torch.tensor([[3., 3., 0.], [1., -1., 0.], [0., 0., 2.]])
    r = 1 / math.sqrt(2)
    assert torch.allclose(leverage_scores(x, 1), torch.tensor([r, r, 0.]), atol=1e-6)
    assert torch.allclose(leverage_scores(x, 2), torch.tensor([r, r, 1.]), atol=1e-6)
    # CSS keeps the filter that spans a new direction, magnitude would drop it (L1: 4, 4, 2)
    assert leverage_scores(x, 2).argmax() == 2
    # fewer rows than channels: the official code falls back to the L1 norms
    assert leverage_scores(x[:2], 2).tolist() == [4., 4., 0.]


def test_regrow_probabilities_orthogonal_part():
    x = torch.tensor([[1., 3., 0., 1.], [0., 0., 2., 0.], [0., 0., 0., 1.]])
    p = regrow_probabilities(x, torch.tensor([0]), torch.tensor([1, 2, 3]))
    # orthogonal parts: (0, 0, 0), (0, 2, 0), (0, 0, 1)
    assert torch.allclose(p, torch.softmax(torch.tensor([0., 2., 1.]), 0), atol=1e-6)


def test_allocation_global_bn_threshold():
    scores = {'a': torch.tensor([0.1, 0.2, 0.3, 0.4]), 'b': torch.tensor([0.5, 0.6, 0.7, 0.8])}
    # threshold = 4th smallest score (0.5); 'a' would lose everything: min_channels keeps one
    assert allocate_channels(scores, 0.5) == {'a': 1, 'b': 3}
    assert allocate_channels(scores, 0.5, min_channels=2) == {'a': 2, 'b': 3}
    assert allocate_channels(scores, 0.25) == {'a': 1, 'b': 4}
    # as the official code, the channels at the threshold go too (even at sparsity 0)
    assert allocate_channels(scores, 0.0) == {'a': 3, 'b': 4}


def _masked_ok(model, hook):
    """Every pruned channel is zero in its producers (filters, BN) and consumers."""
    for g in hook.groups:
        off = ~hook.masks[g.name]
        for conv, bn in g.producers:
            assert model.get_submodule(conv).weight[off].abs().sum() == 0
            assert model.get_submodule(bn).weight[off].abs().sum() == 0
            assert model.get_submodule(bn).bias[off].abs().sum() == 0
        for name in g.consumers:
            assert model.get_submodule(name).weight[:, off].abs().sum() == 0


def test_initial_masks_and_masks_after_every_step():
    model = tiny_classifier()
    l1 = model.backbone.layer1[0].conv1.weight.detach().flatten(1).abs().sum(1)
    runner = FakeRunner(model, max_epochs=3, iters_per_epoch=2)
    hook = CHEXHook(channel_sparsity=0.5, init_channel_ratio=0.2, interval=2, end=4,
                    by_epoch=False)
    hook.before_train(runner)
    assert [g.name for g in hook.groups] == [G1, G2]
    # 30% pruned per group at the start, by filter L1 norm
    assert hook.channel_counts() == {G1: 5, G2: 11}
    assert set(hook.masks[G1].nonzero().flatten().tolist()) == set(l1.topk(5).indices.tolist())
    _masked_ok(model, hook)
    for i in range(2):
        hook.before_train_iter(runner, i)
        runner.step()
        hook.after_train_iter(runner, i)
        _masked_ok(model, hook)  # the SGD step moved the pruned weights; the hook re-zeroed
        runner.iter += 1
    # iteration 2 is an update step (done at the end of iteration 1)
    assert hook.last_update == 2


def test_update_allocates_by_bn_and_regrows_mru_weights():
    model = tiny_classifier()
    runner = FakeRunner(model, max_epochs=2, iters_per_epoch=5)
    hook = CHEXHook(channel_sparsity=0.5, init_channel_ratio=0.2, interval=2, end=6,
                    by_epoch=False)
    hook.before_train(runner)
    before = {k: v.clone() for k, v in hook.masks.items()}
    mru = {k: v.clone() for k, v in hook.mru.items()}
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.1, 1.0)
    scores = hook._bn_scores(model)
    counts = hook.update(model, 2)
    keep = allocate_channels(scores, 0.5)
    up = allocate_channels(scores, 0.5 - hook.regrow_ratio(2))
    for g in (G1, G2):
        assert counts[g]['kept'] == keep[g]
        assert counts[g]['kept'] + counts[g]['regrown'] == up[g] == int(hook.masks[g].sum())
    _masked_ok(model, hook)
    # regrown channels restart from their most recently used (last-update) weights
    grown = hook.masks[G2] & ~before[G2]
    assert grown.any()
    w = model.backbone.layer2[0].conv1.weight
    assert torch.equal(w[grown], mru[f'{G2}.weight'][grown]) and w[grown].abs().sum() > 0


def test_channel_counts_after_hand_set_allocation():
    model = tiny_classifier()
    hook = CHEXHook(channel_sparsity=0.5, init_channel_ratio=0.2, interval=2, end=6,
                    by_epoch=False)
    hook.before_train(FakeRunner(model, max_epochs=2, iters_per_epoch=5))
    with torch.no_grad():
        model.backbone.layer1[0].bn1.weight.copy_(0.1 * torch.arange(1, 9))
        model.backbone.layer2[0].bn1.weight.copy_(0.05 * torch.arange(1, 17))
    # 24 scores, the 12th smallest (0.45) is the threshold: 0.5..0.8 (4) and 0.5..0.8 (7) stay;
    # at the end of exploration nothing is regrown
    counts = hook.update(model, 6)
    assert hook.channel_counts() == {G1: 4, G2: 7}
    assert counts == {G1: dict(kept=4, regrown=0), G2: dict(kept=7, regrown=0)}


def test_training_reaches_the_target_and_exports_a_smaller_equal_network():
    from mmengine.analysis import get_model_complexity_info
    runner = FakeRunner(tiny_classifier(), max_epochs=3, iters_per_epoch=3)
    hook = CHEXHook(channel_sparsity=0.5, init_channel_ratio=0.2, interval=2, end=6,
                    by_epoch=False, prune_residual=True)
    runner.train(hook)
    model = runner.model.eval()
    # 2 inside blocks; 2 residual streams: stem + layer1 (no downsample), layer2
    assert [g.name for g in hook.groups] == [G1, G2, 'backbone.conv1',
                                             'backbone.layer2.0.downsample.0']
    total = sum(g.size for g in hook.groups)
    assert sum(hook.channel_counts().values()) <= total // 2
    masks = channel_masks_from_weights(model, hook.groups)
    assert all(torch.equal(masks[k], hook.masks[k]) for k in masks)
    small = copy.deepcopy(model)
    prune_channels(small, hook.groups, masks)
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(model(x, mode='tensor'), small(x, mode='tensor'), atol=1e-5)
    flops = [get_model_complexity_info(m.backbone, inputs=(x[:1], ), show_table=False,
                                       show_arch=False) for m in (model, small)]
    assert flops[1]['params'] < 0.7 * flops[0]['params']
    assert flops[1]['flops'] < 0.7 * flops[0]['flops']
    assert small.head.fc.in_features == int(hook.masks['backbone.layer2.0.downsample.0'].sum())


def test_resume_keeps_masks_and_mru():
    runner = FakeRunner(tiny_classifier(), max_epochs=2, iters_per_epoch=2)
    hook = CHEXHook(interval=1, end=2, init_channel_ratio=0.3)
    runner.train(hook, epochs=1)
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    resumed = CHEXHook(interval=1, end=2, init_channel_ratio=0.3)
    resumed.after_load_checkpoint(runner, ckpt)
    resumed.before_train(runner)
    assert resumed.last_update == 1
    assert all(torch.equal(resumed.masks[k], hook.masks[k]) for k in hook.masks)
    assert resumed.mru.keys() == hook.mru.keys()


def test_bad_config_values_name_the_key():
    with pytest.raises(ValueError, match='"channel_sparsity"'):
        CHEXHook(channel_sparsity=1.0)
    with pytest.raises(ValueError, match='"init_channel_ratio"'):
        CHEXHook(channel_sparsity=0.3, init_channel_ratio=0.4)
    with pytest.raises(ValueError, match='"interval"'):
        CHEXHook(interval=0)
    with pytest.raises(ValueError, match='"end"'):
        CHEXHook(end=2.5)
    with pytest.raises(ValueError, match='"min_channels"'):
        CHEXHook(min_channels=0)
    with pytest.raises(ValueError, match='"end"=9 is beyond'):
        CHEXHook(end=9).before_train(FakeRunner(tiny_classifier(), max_epochs=4))
