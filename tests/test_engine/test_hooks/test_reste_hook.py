import math

import pytest

import mmext  # noqa: F401
from mmext.engine.hooks import ReSTEHook
from mmext.models.layers import ReSTEConv2d

from _compression_helpers import FakeRunner, tiny_classifier

BLOCKS = dict(pattern=r'backbone\.layer\d\.\d+\.conv[12]', layer=dict(type='mmext.ReSTEConv2d'))


def test_reste_schedule_values():
    hook = ReSTEHook(o_end=3)
    assert hook.exponent(0) == 1.0
    assert math.isclose(hook.exponent(1), 3.0)
    assert math.isclose(hook.exponent(0.5), 1 + (1 - math.cos(math.pi / 4)) * 2)


def test_reste_hook_sets_every_layer_by_epoch_and_by_iter():
    model = tiny_classifier([BLOCKS])
    runner = FakeRunner(model, max_epochs=4)
    runner.train(ReSTEHook(o_end=3))
    layers = [m for m in model.modules() if isinstance(m, ReSTEConv2d)]
    assert len(layers) == 4
    # the last epoch (index 3 of 4) set o = 1 + (1 - cos(pi/2 * 3/4)) * 2
    expected = 1 + (1 - math.cos(math.pi / 2 * 0.75)) * 2
    assert all(math.isclose(float(m.o), expected, rel_tol=1e-6) for m in layers)
    assert math.isclose(runner.message_hub.get_scalar('train/reste_o').current(), expected,
                        rel_tol=1e-6)
    model2 = tiny_classifier([BLOCKS])
    runner2 = FakeRunner(model2, max_epochs=1, iters_per_epoch=4)
    runner2.train(ReSTEHook(o_end=2, by_epoch=False))
    assert math.isclose(float(model2.backbone.layer1[0].conv1.o),
                        1 + (1 - math.cos(math.pi / 2 * 3 / 4)), rel_tol=1e-6)


def test_reste_hook_bad_config():
    with pytest.raises(ValueError, match='"o_end"'):
        ReSTEHook(o_start=2, o_end=1)
    with pytest.raises(ValueError, match='no mmext.ReSTEConv2d'):
        ReSTEHook().before_train(FakeRunner(tiny_classifier()))
