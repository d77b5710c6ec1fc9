import pytest
import torch
from mmengine.registry import init_default_scope

from mmext.evaluation import HashingMAP, RecallAtK, hamming_map, recall_at_k
from mmext.registry import METRICS


def test_recall_at_k_hand_example():
    # 1-D embeddings on the unit circle; angles define the neighbours
    angles = torch.tensor([0., 0.1, 1.0, 1.1, 3.0])
    emb = torch.stack([angles.cos(), angles.sin()], dim=1)
    labels = torch.tensor([0, 1, 1, 0, 1])
    # nearest other sample: 0->1 (miss), 1->0 (miss), 2->3 (miss), 3->2 (miss), 4->3 (miss)
    # 2 nearest: 0->{1,2} miss, 1->{0,2} hit, 2->{3,1} hit, 3->{2,1} miss, 4->{3,2} hit
    r1, r2 = recall_at_k(emb, labels, topk=(1, 2), chunk_size=2)
    assert r1 == 0.0 and r2 == pytest.approx(3 / 5)
    # multi-hot labels give the same answer when each sample has one label
    assert recall_at_k(emb, torch.eye(2)[labels], topk=(1, 2)) == [r1, r2]
    with pytest.raises(ValueError, match='topk'):
        recall_at_k(emb, labels, topk=(5, ))


def test_hamming_map_hand_example():
    q = torch.tensor([[1., 1., 1., 1.]])
    db = torch.tensor([[1., 1., 1., -1.],    # d=1, relevant
                       [1., 1., -1., -1.],   # d=2, irrelevant
                       [1., 1., 1., 1.],     # d=0, irrelevant
                       [-1., -1., -1., -1.]])  # d=4, relevant
    ql, dl = torch.tensor([0]), torch.tensor([0, 1, 1, 0])
    # ranking: 2 (no), 0 (yes), 1 (no), 3 (yes) -> AP = (1/2 + 2/4) / 2
    m_all, m2 = hamming_map(q, ql, db, dl, topk=(None, 2))
    assert m_all == pytest.approx(0.5) and m2 == pytest.approx(0.5)  # top-2: 1/2 over 1 hit
    m1, = hamming_map(q, ql, db, dl, topk=(1, ))
    assert m1 == 0.0
    # multi-hot labels: relevant if any label is shared
    ql = torch.tensor([[1, 0, 1]])
    dl = torch.tensor([[0, 0, 1], [0, 1, 0], [1, 1, 0], [0, 1, 0]])
    # ranking: 2 (yes), 0 (yes), 1 (no), 3 (no) -> AP 1
    assert hamming_map(q, ql, db, dl)[0] == pytest.approx(1.0)


def test_hamming_map_ties_and_self_exclusion():
    codes = torch.tensor([[1., 1.], [1., 1.], [-1., -1.]])
    labels = torch.tensor([0, 1, 0])
    # leave-one-out; ties keep database order
    # q0: db [1 (d0, no), 2 (d2, yes)] -> 1/2 ; q1: [0 (no), 2 (no)] -> 0 ; q2: [0 (yes), 1] -> 1
    assert hamming_map(codes, labels, codes, labels, exclude_self=True,
                       chunk_size=2)[0] == pytest.approx((0.5 + 0 + 1) / 3)


def _samples(field, values, labels):
    return [{field: v, 'gt_label': torch.tensor([l])} for v, l in zip(values, labels)]


def test_metrics_process_and_compute():
    init_default_scope('mmpretrain')
    metric = METRICS.build(dict(type='mmext.RecallAtK', topk=(1, 2)))
    assert isinstance(metric, RecallAtK)
    angles = torch.tensor([0., 0.1, 1.0, 1.1, 3.0])
    emb = torch.stack([angles.cos(), angles.sin()], dim=1)
    metric.process(None, _samples('embedding', emb, [0, 1, 1, 0, 1]))
    res = metric.evaluate(5)
    assert res['retrieval/Recall@1'] == 0.0
    assert res['retrieval/Recall@2'] == pytest.approx(60.0)

    metric = METRICS.build(dict(type='mmext.HashingMAP', topk=(None, 1)))
    assert isinstance(metric, HashingMAP)
    codes = torch.tensor([[1., 1.], [1., 1.], [-1., -1.]])
    metric.process(None, _samples('hash_code', codes, [0, 1, 0]))
    res = metric.evaluate(3)
    assert res['retrieval/mAP@all'] == pytest.approx(100 * 1.5 / 3)
    assert res['retrieval/mAP@1'] == pytest.approx(100 / 3)
    # query / database split: query 0 against database {1, 2}
    metric = HashingMAP(topk=(None, ), num_queries=1)
    metric.process(None, _samples('hash_code', codes, [0, 1, 0]))
    assert metric.evaluate(3)['retrieval/mAP@all'] == pytest.approx(50.0)


def test_metric_errors():
    with pytest.raises(ValueError, match='topk'):
        RecallAtK(topk=(0, ))
    with pytest.raises(ValueError, match='topk'):
        HashingMAP(topk=(1.5, ))
    with pytest.raises(ValueError, match='num_queries'):
        HashingMAP(num_queries=0)
    with pytest.raises(KeyError, match='hash_code'):
        HashingMAP().process(None, [{'gt_label': torch.tensor([0])}])
