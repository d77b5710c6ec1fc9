import pytest
import torch

import mmext  # noqa: F401
from mmext.engine.hooks import LTSHook
from mmext.models.layers import LSQConv2d

from _compression_helpers import FakeRunner, tiny_classifier

BLOCKS = dict(pattern=r'backbone\.layer\d\.\d+\.conv[12]',
              layer=dict(type='mmext.LSQConv2d', weight_bits=2, act_bits=2))


def test_lts_rate_schedules():
    hook = LTSHook(warmup=2, by_epoch=False)
    hook.warmup_iters, hook.total_iters = 2, 12
    assert hook.rate(1) == 0 and hook.rate(2) == 0 and hook.rate(7) == 0.5
    hook.mode = 'fixing'
    assert hook.rate(5) == 0.1  # official fixed_rate


def test_lts_freezes_settled_weights_and_keeps_them_fixed():
    model = tiny_classifier([BLOCKS])
    runner = FakeRunner(model, max_epochs=4, iters_per_epoch=5)
    hook = LTSHook(warmup=1, distance_ema=0.5, mode='linear-growth')
    runner.train(hook, epochs=3)
    layers = [m for m in model.modules() if isinstance(m, LSQConv2d)]
    frozen = sum(int(m.frozen.sum()) for m in layers)
    assert frozen > 0
    # the rule: a weight is frozen iff its distance EMA fell below the rate at some point
    layer = layers[0]
    st = hook.state['backbone.layer1.0.conv1']
    assert torch.all(st['distance'][~layer.frozen] > hook.rate(runner.iter - 1))
    # frozen weights do not move under further SGD steps (momentum and weight decay included)
    before = {id(m): m.weight.detach().clone() for m in layers}
    masks = {id(m): m.frozen.clone() for m in layers}
    for i in range(3):
        runner.step()
        hook.after_train_iter(runner, i)
        runner.iter += 1
    for m in layers:
        mask = masks[id(m)]
        assert torch.equal(m.weight.detach()[mask], before[id(m)][mask])
    hub = runner.message_hub
    ratio = hub.get_scalar('train/lts_frozen').current()
    updates = hub.get_scalar('train/lts_updates_saved').current()
    saved = hub.get_scalar('train/lts_bwd_saved').current()
    # totals over the run: nothing was frozen during the warm-up epoch, so less than now
    assert 0 < updates < ratio <= 1 and 0 < saved <= 0.5
    assert updates == pytest.approx(float(hook.totals[0] / hook.totals[1]))
    # backward FLOPs saved: frozen share of the weight-gradient half of each layer's backward
    summary = hook.summary(model)
    manual = sum(float(m.frozen.float().mean()) * m.macs for m in layers) / sum(
        2 * m.macs for m in layers)
    assert abs(summary['bwd_saved'] - manual) < 1e-9


def test_lts_checkpoint_roundtrip():
    model = tiny_classifier([BLOCKS])
    runner = FakeRunner(model, max_epochs=2, iters_per_epoch=2)
    hook = LTSHook(warmup=0)
    runner.train(hook, epochs=1)
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    hook2 = LTSHook(warmup=0)
    hook2.after_load_checkpoint(runner, ckpt)
    name = 'backbone.layer1.0.conv1'
    assert torch.equal(hook2.state[name]['distance'], hook.state[name]['distance'])
    assert torch.equal(hook2.totals, hook.totals)


def test_lts_bad_config():
    with pytest.raises(ValueError, match='"mode"'):
        LTSHook(mode='random')
    with pytest.raises(ValueError, match='"distance_ema"'):
        LTSHook(distance_ema=1.0)
    with pytest.raises(ValueError, match='no mmext.LSQConv2d'):
        LTSHook().before_train(FakeRunner(tiny_classifier()))
    with pytest.raises(ValueError, match='"warmup"'):
        LTSHook(warmup=10).before_train(FakeRunner(tiny_classifier([BLOCKS]), max_epochs=4))
