"""SourceTargetPairDataset: counts, pair cycling, pseudo-labels in the items, errors."""
from collections import Counter

import pytest
import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

import mmext  # noqa: F401
from mmext.datasets import SourceTargetPairDataset
from mmext.models.classifiers import SourceTargetDataPreprocessor


class Tagged(Dataset):
    """Item i: a 1x2x2 image filled with ``offset + i``, label i % 3."""

    def __init__(self, n, offset):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return dict(inputs=torch.full((1, 2, 2), float(self.offset + i)),
                    data_samples=DataSample().set_gt_label(i % 3))


def test_length_items_and_pseudo_labels():
    ds = SourceTargetPairDataset(Tagged(5, 0), Tagged(4, 100))
    assert len(ds) == 9  # default epoch: len(source) + len(target)
    with pytest.raises(RuntimeError, match='CDTransPairHook'):
        ds[0]
    ds.set_pairs([0, 3, 4], [2, 2, 1], [2, 2, 0])
    item = ds[1]
    assert item['inputs'].flatten()[0] == 3 and item['target_inputs'].flatten()[0] == 102
    assert item['data_samples'].gt_label.item() == 0  # source keeps its label (3 % 3)
    tgt = item['target_data_samples']
    assert tgt.gt_label.item() == 2 and tgt.metainfo['domain'] == 'target'
    # the true label of target 1 is 1; the pair's pseudo-label 0 replaces it
    assert ds[2]['target_data_samples'].gt_label.item() == 0
    assert ds[5]['inputs'].flatten()[0] == 4  # item 5 = pair 5 mod 3 = 2


def test_loader_counts_and_batches():
    ds = SourceTargetPairDataset(Tagged(6, 0), Tagged(6, 100), epoch_length=8)
    ds.set_pairs([0, 1, 2], [5, 4, 3], [0, 1, 2])
    loader = DataLoader(ds, batch_size=4, sampler=DefaultSampler(ds, shuffle=True, seed=0),
                        collate_fn=pseudo_collate)
    batches = list(loader)
    assert len(batches) == 2
    pre = SourceTargetDataPreprocessor(mean=[0.], std=[1.])
    drawn = Counter()
    for data in batches:
        out = pre(data, True)
        assert out['inputs'].shape == (8, 1, 2, 2)  # 4 source then 4 target images
        src = out['inputs'][:4, 0, 0, 0].long().tolist()
        tgt = (out['inputs'][4:, 0, 0, 0] - 100).long().tolist()
        for s, t in zip(src, tgt):
            assert (s, t) in {(0, 5), (1, 4), (2, 3)}  # only selected pairs, kept together
            drawn[s] += 1
        domains = [d.metainfo.get('domain') for d in out['data_samples']]
        assert domains == [None] * 4 + ['target'] * 4
    # 8 draws over 3 pairs: each pair 2 or 3 times
    assert sorted(drawn.values()) == [2, 3, 3]


def test_pair_state_round_trip_and_errors():
    ds = SourceTargetPairDataset(Tagged(3, 0), Tagged(3, 100))
    ds.set_pairs([0, 2], [1, 1], [0, 0])
    other = SourceTargetPairDataset(Tagged(3, 0), Tagged(3, 100))
    other.load_pair_state(ds.pair_state())
    assert other.source_index.tolist() == [0, 2] and other.target_index.tolist() == [1, 1]
    with pytest.raises(ValueError, match='length'):
        ds.set_pairs([0], [1, 2], [0])
    with pytest.raises(ValueError, match='range'):
        ds.set_pairs([3], [0], [0])
    with pytest.raises(ValueError, match='no source-target pair'):
        ds.set_pairs([], [], [])
    with pytest.raises(ValueError, match='epoch_length'):
        SourceTargetPairDataset(Tagged(3, 0), Tagged(3, 100), epoch_length=0)
    with pytest.raises(ValueError, match='empty'):
        SourceTargetPairDataset(Tagged(0, 0), Tagged(3, 100))
