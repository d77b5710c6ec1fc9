from unittest.mock import patch

import pytest

from mmext.datasets import KCDSampler


def test_behaves_like_default_sampler_until_condensed():
    from mmengine.dataset import DefaultSampler
    data = list(range(10))
    ours, ref = KCDSampler(data, seed=3), DefaultSampler(data, seed=3)
    for epoch in (0, 1):
        ours.set_epoch(epoch)
        ref.set_epoch(epoch)
        assert list(ours) == list(ref)
    assert len(ours) == 10


def test_kept_subset_shuffle_and_epoch():
    sampler = KCDSampler(list(range(10)), seed=0)
    sampler.set_kept_indices([7, 1, 3, 3, 5])
    assert sampler.kept_indices.tolist() == [1, 3, 5, 7]
    assert len(sampler) == 4
    first = list(sampler)
    assert sorted(first) == [1, 3, 5, 7]
    assert list(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    orders = {tuple(sampler)}
    for epoch in range(2, 6):
        sampler.set_epoch(epoch)
        orders.add(tuple(sampler))
    assert len(orders) > 1
    unshuffled = KCDSampler(list(range(10)), shuffle=False)
    unshuffled.set_kept_indices([4, 2])
    assert list(unshuffled) == [2, 4]


def test_distributed_split_rounds_up():
    data = list(range(10))
    with patch('mmengine.dataset.sampler.get_dist_info', side_effect=[(0, 2), (1, 2)]):
        ranks = [KCDSampler(data, seed=0), KCDSampler(data, seed=0)]
    per_rank = []
    for sampler in ranks:
        sampler.set_kept_indices([0, 2, 4, 6, 8])
        per_rank.append(list(sampler))
        assert len(sampler) == 3
    merged = per_rank[0] + per_rank[1]
    assert len(merged) == 6 and set(merged) == {0, 2, 4, 6, 8}


def test_bad_indices():
    sampler = KCDSampler(list(range(5)))
    with pytest.raises(ValueError, match=r'\[0, 5\)'):
        sampler.set_kept_indices([1, 5])
    with pytest.raises(ValueError, match='at least one'):
        sampler.set_kept_indices([])
