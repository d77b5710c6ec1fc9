import pytest

import mmext  # noqa: F401
from mmext.engine.hooks import LBCHook
from mmext.models.layers import LBCConv2d
from mmext.models.layers.compression_utils import nm_violations

from _compression_helpers import FakeRunner, tiny_classifier

BLOCKS = dict(pattern=r'backbone\.layer\d\.\d+\.conv[12]',
              layer=dict(type='mmext.LBCConv2d', N=2, M=4))


def test_lbc_cubic_schedule():
    # C(4, 2) = 6 combinations: all alive at the start, one at the end (official formula)
    assert LBCHook.alive(6, 0.0) == 6
    assert LBCHook.alive(6, 0.5) == 1 + 1  # ceil(5 * 0.125)
    assert LBCHook.alive(6, 1.0) == 1


def test_lbc_hook_trains_to_exact_nm():
    model = tiny_classifier([BLOCKS])
    runner = FakeRunner(model, max_epochs=4)
    hook = LBCHook(start=0, end=3)
    hook.before_train(runner)
    layers = [m for m in model.modules() if isinstance(m, LBCConv2d)]
    assert all(int(m.lbc_alive.sum(1).min()) == 6 for m in layers)
    runner.train(hook)
    for m in layers:
        assert m.nm_satisfied and not m.lbc_scores.requires_grad
        assert nm_violations(m.export_weight(), 2, 4) == 0
    assert runner.message_hub.get_scalar('train/lbc_nm_satisfied').current() == 1


def test_lbc_hook_end_equal_to_max_epochs_still_ends_nm():
    model = tiny_classifier([BLOCKS])
    runner = FakeRunner(model, max_epochs=2, iters_per_epoch=2)
    runner.train(LBCHook(start=0, end=2))
    assert all(m.nm_satisfied for m in model.modules() if isinstance(m, LBCConv2d))


def test_lbc_hook_bad_config():
    with pytest.raises(ValueError, match='"start" and "end"'):
        LBCHook(start=5, end=5)
    with pytest.raises(ValueError, match='beyond the training length'):
        LBCHook(end=10).before_train(FakeRunner(tiny_classifier([BLOCKS]), max_epochs=4))
