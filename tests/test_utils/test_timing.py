"""seconds_per_call, the timer of the benchmark tools."""
import time

import pytest

from mmext.utils import seconds_per_call


def test_mean_over_timed_calls_only():
    calls = []

    def work():  # the two warm-up calls sleep 50x longer than the timed ones
        time.sleep(0.5 if len(calls) < 2 else 0.01)
        calls.append(1)

    seconds = seconds_per_call(work, iters=3, warmup=2)
    assert len(calls) == 5
    # a mean over the three timed calls only (timing the warm-up too would give >= 0.34)
    assert 0.01 <= seconds < 0.3


def test_rejects_no_iterations():
    with pytest.raises(ValueError, match='"iters" must be >= 1'):
        seconds_per_call(lambda: None, iters=0)
