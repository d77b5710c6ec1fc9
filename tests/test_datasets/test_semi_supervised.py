"""SemiSupervisedDataset / SemiSupervisedSampler: split counts, disjointness, seeding, layout."""
import itertools

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from mmext.datasets import SemiSupervisedDataset, SemiSupervisedSampler, class_balanced_split

NUM_CLASSES = 5
PER_CLASS = 12  # 60 images


class _TinySet:
    """60 2x2 images; image i has label i % 5 and pixel value i."""

    def __init__(self):
        self.labels = np.arange(NUM_CLASSES * PER_CLASS) % NUM_CLASSES
        self.metainfo = dict(classes=[str(c) for c in range(NUM_CLASSES)])

    def __len__(self):
        return self.labels.size

    def get_gt_labels(self):
        return self.labels

    def get_data_info(self, idx):
        return dict(img=np.full((2, 2), idx, dtype=np.uint8),
                    gt_label=np.array(self.labels[idx], dtype=np.int64), sample_idx=idx)


def _wrapper(k=3, seed=0, num_unlabeled=None):
    init_default_scope('mmpretrain')
    pack = [dict(type='PackInputs')]
    return SemiSupervisedDataset(_TinySet(), k, pack, pack, pack, split_seed=seed,
                                 num_unlabeled=num_unlabeled)


def test_split_counts_disjoint_and_seeded():
    labels = np.arange(60) % NUM_CLASSES
    lab, unl = class_balanced_split(labels, 3, seed=0)
    assert np.bincount(labels[lab], minlength=NUM_CLASSES).tolist() == [3] * NUM_CLASSES
    assert np.intersect1d(lab, unl).size == 0
    assert np.union1d(lab, unl).tolist() == list(range(60))
    lab_again, unl_again = class_balanced_split(labels, 3, seed=0)
    assert lab_again.tolist() == lab.tolist() and unl_again.tolist() == unl.tolist()
    assert class_balanced_split(labels, 3, seed=1)[0].tolist() != lab.tolist()
    _, small = class_balanced_split(labels, 3, seed=0, num_unlabeled=10)
    assert small.size == 10 and np.intersect1d(lab, small).size == 0


@pytest.mark.parametrize('kwargs,key', [
    (dict(num_labels_per_class=13), 'num_labels_per_class'),
    (dict(num_labels_per_class=0), 'num_labels_per_class'),
    (dict(num_labels_per_class=2, num_unlabeled=51), 'num_unlabeled'),
])
def test_split_rejects_bad_values(kwargs, key):
    with pytest.raises(ValueError, match=key):
        class_balanced_split(np.arange(60) % NUM_CLASSES, **kwargs)


def test_dataset_views_and_tags():
    ds = _wrapper(k=3)
    L, U = ds.num_labeled, ds.num_unlabeled
    assert (L, U, len(ds)) == (15, 45, 15 + 90)
    first = ds[0]
    assert first['data_samples'].ssl_view == 'labeled'
    assert first['data_samples'].ssl_index == ds.labeled_indices[0]
    weak, strong = ds[L + 7], ds[L + U + 7]
    assert (weak['data_samples'].ssl_view, strong['data_samples'].ssl_view) == ('weak', 'strong')
    src = int(ds.unlabeled_indices[7])
    assert weak['data_samples'].ssl_index == strong['data_samples'].ssl_index == src
    # the images are the wrapped dataset's (pixel value = index)
    assert int(weak['inputs'].flatten()[0]) == int(strong['inputs'].flatten()[0]) == src
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataset_needs_packed_pipeline():
    init_default_scope('mmpretrain')
    ds = SemiSupervisedDataset(_TinySet(), 2, [], [dict(type='PackInputs')],
                               [dict(type='PackInputs')])
    with pytest.raises(TypeError, match='PackInputs'):
        ds[0]


def _batches(sampler, n):
    """The first ``n`` iterations of the endless stream, split into batches."""
    size = sampler.batch_size
    idx = list(itertools.islice(iter(sampler), n * size))
    return [idx[i:i + size] for i in range(0, len(idx), size)]


def test_sampler_layout_and_counts():
    ds = _wrapper(k=3)  # L = 15, U = 45
    L, U = ds.num_labeled, ds.num_unlabeled
    sampler = SemiSupervisedSampler(ds, labeled_batch_size=2, mu=3, seed=0)
    assert sampler.batch_size == 2 * 7 and sampler.iters_per_round == 45 // 6
    assert len(sampler) == 7 * 14
    batches = _batches(sampler, 14)  # two rounds over the unlabelled pool
    for r in range(2):
        seen = []
        for batch in batches[7 * r:7 * (r + 1)]:
            lab, weak, strong = batch[:2], batch[2:8], batch[8:]
            assert all(0 <= i < L for i in lab)
            assert all(L <= i < L + U for i in weak)
            assert [i - U for i in strong] == weak  # the same images in the same order
            seen += weak
        assert len(set(seen)) == len(seen) == 42  # a round: each image at most once
    # a batch through the wrapper: 2 labelled, 6 weak, 6 strong samples, strong pairs weak
    samples = [ds[i]['data_samples'] for i in batches[0]]
    views = [s.ssl_view for s in samples]
    assert views == ['labeled'] * 2 + ['weak'] * 6 + ['strong'] * 6
    assert [s.ssl_index for s in samples[2:8]] == [s.ssl_index for s in samples[8:]]


def test_sampler_is_seeded_and_resumable():
    ds = _wrapper(k=3)
    a = SemiSupervisedSampler(ds, labeled_batch_size=2, mu=3, seed=0)
    b = SemiSupervisedSampler(ds, labeled_batch_size=2, mu=3, seed=0)
    first = _batches(a, 20)
    assert first == _batches(b, 20)
    assert first[7:14] != first[:7]  # each round is a new permutation
    assert [a.iteration(g) for g in range(20)] == first  # iteration g depends on g only
    b.set_epoch(5)  # no effect
    assert _batches(b, 20) == first
    c = SemiSupervisedSampler(ds, labeled_batch_size=2, mu=3, seed=1)
    assert _batches(c, 20) != first


def test_labeled_stream_shared_with_supervised_arm():
    """mu=0 (supervised only) walks the same labelled stream, permutation after permutation."""
    ds = _wrapper(k=3)
    semi = SemiSupervisedSampler(ds, labeled_batch_size=2, mu=3, seed=0)
    sup = SemiSupervisedSampler(ds, labeled_batch_size=2, mu=0, seed=0)
    assert sup.batch_size == 2
    semi_labeled = [i for batch in _batches(semi, 30) for i in batch[:2]]
    sup_labeled = [i for batch in _batches(sup, 30) for i in batch]
    assert semi_labeled == sup_labeled
    # each run of L consecutive labelled indices is a permutation of the labelled subset
    assert sorted(sup_labeled[:15]) == list(range(15))
    assert sorted(sup_labeled[15:30]) == list(range(15))
    assert sup_labeled[:15] != sup_labeled[15:30]


def test_sampler_rejects_bad_values():
    ds = _wrapper(k=3)
    with pytest.raises(ValueError, match='mu'):
        SemiSupervisedSampler(ds, labeled_batch_size=2, mu=-1, seed=0)
    with pytest.raises(ValueError, match='labeled_batch_size'):
        SemiSupervisedSampler(ds, labeled_batch_size=0, mu=1, seed=0)
    with pytest.raises(ValueError, match='num_unlabeled'):
        SemiSupervisedSampler(ds, labeled_batch_size=8, mu=6, seed=0)  # 48 > 45
    with pytest.raises(TypeError, match='SemiSupervisedDataset'):
        SemiSupervisedSampler(torch.zeros(3), labeled_batch_size=1, mu=1, seed=0)
