"""QueryGalleryMAP, reid_map_cmc and gcr_rerank against hand-computed values and a loop
reference of the official GCR code (WesleyZhang1991/GCN_rerank, mergesetfeat4, SCALE=0)."""
import math

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.evaluation import QueryGalleryMAP, gcr_rerank, reid_map_cmc
from mmext.registry import METRICS


def _unit(angles):
    angles = torch.tensor(angles)
    return torch.stack([angles.cos(), angles.sin()], dim=1)


def test_map_cmc_hand_example():
    q = _unit([0.0])
    # cosine ranking of the gallery: angles 0.1, 0.2, 0.4, 0.8, 1.6 -> items 2, 0, 4, 1, 3
    g = _unit([0.2, 0.8, 0.1, 1.6, 0.4])
    gl = torch.tensor([1, 0, 0, 1, 1])  # ranked relevance for label 1: [0, 1, 1, 0, 1]
    m_ap, (c1, c2, c3), n = reid_map_cmc(q, torch.tensor([1]), g, gl, topk=(1, 2, 3))
    # precision at the hits: 1/2, 2/3, 3/5
    assert m_ap == pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3)
    assert (c1, c2, c3, n) == (0.0, 1.0, 1.0, 1)


def test_map_cmc_same_camera_is_ignored():
    q = _unit([0.0])
    g = _unit([0.2, 0.8, 0.1, 1.6, 0.4])
    gl = torch.tensor([1, 0, 0, 1, 1])
    # item 0 (rank 2) is the query's identity seen by the query's camera: removed, so the kept
    # ranking is 2 (no), 4 (yes), 1 (no), 3 (yes) -> AP (1/2 + 2/4) / 2, first hit at rank 2
    m_ap, (c1, c2), _ = reid_map_cmc(q, torch.tensor([1]), g, gl, (1, 2), torch.tensor([5]),
                                     torch.tensor([5, 1, 1, 2, 3]))
    assert m_ap == pytest.approx(0.5) and (c1, c2) == (0.0, 1.0)
    # a different-identity item of the query's camera stays a negative
    m_ap2, _, _ = reid_map_cmc(q, torch.tensor([1]), g, gl, (1, ), torch.tensor([5]),
                               torch.tensor([1, 1, 5, 2, 3]))
    assert m_ap2 == pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3)


def test_map_cmc_queries_without_match_are_skipped_and_errors():
    q = _unit([0.0, 1.0])
    g = _unit([0.0, 0.5])
    m_ap, (c1, ), n = reid_map_cmc(q, torch.tensor([0, 7]), g, torch.tensor([0, 1]), (1, ))
    assert (m_ap, c1, n) == (1.0, 1.0, 1)
    with pytest.raises(ValueError, match='no query'):
        reid_map_cmc(q, torch.tensor([7, 8]), g, torch.tensor([0, 1]), (1, ))
    with pytest.raises(ValueError, match='same dimension'):
        reid_map_cmc(q, torch.tensor([0, 1]), torch.randn(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='camera'):
        reid_map_cmc(q, torch.tensor([0, 1]), g, torch.tensor([0, 1]), (1, ),
                     torch.tensor([0, 1]))


def test_map_matches_a_loop_reference_on_random_data():
    torch.manual_seed(0)
    q, g = torch.randn(7, 5), torch.randn(30, 5)
    ql, gl = torch.randint(0, 3, (7, )), torch.randint(0, 3, (30, ))
    qc, gc = torch.randint(0, 2, (7, )), torch.randint(0, 2, (30, ))
    sim = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(g, dim=1).t()
    aps, top1 = [], []
    for i in range(7):
        order = [j for j in sim[i].argsort(descending=True).tolist()
                 if not (gl[j] == ql[i] and gc[j] == qc[i])]
        rel = [int(gl[j] == ql[i]) for j in order]
        if not any(rel):
            continue
        hits = [r for r, x in enumerate(rel, 1) if x]
        aps.append(np.mean([(k + 1) / r for k, r in enumerate(hits)]))
        top1.append(rel[0])
    m_ap, (c1, ), n = reid_map_cmc(q, ql, g, gl, (1, ), qc, gc, chunk_size=3)
    assert n == len(aps) and m_ap == pytest.approx(np.mean(aps)) and c1 == np.mean(top1)


def _gcr_reference(x, k1, beta1, rounds, sym=False):
    """The official mergesetfeat4 global branch (SCALE=0), written as its loops."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    for _ in range(rounds):
        sim = x.dot(x.T)
        rank = np.argsort(-sim, axis=1, kind='stable')
        s = np.zeros(sim.shape)
        for i in range(x.shape[0]):
            s[i, rank[i, :k1]] = np.exp(sim[i, rank[i, :k1]] / beta1)
            s[i, i] = np.exp(sim[i, i] / beta1)
        if sym:
            s = 0.5 * (s + s.T)
        d_row = np.sqrt(1. / s.sum(axis=1))
        d_col = np.sqrt(1. / s.sum(axis=0))
        x = (np.outer(d_row, d_col) * s).dot(x)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


@pytest.mark.parametrize('k,beta,rounds,sym', [(2, 0.5, 1, False), (3, 0.2, 3, False),
                                               (3, 0.3, 2, True)])
def test_gcr_matches_official_layout(k, beta, rounds, sym):
    torch.manual_seed(1)
    x = torch.randn(9, 4, dtype=torch.float64)
    ref = _gcr_reference(x.numpy(), k, beta, rounds, sym)
    out = gcr_rerank(x, k=k, beta=beta, rounds=rounds, symmetric=sym)
    assert np.allclose(out.numpy(), ref, atol=1e-5)


def test_gcr_tiny_graph_by_hand():
    # two points at 90 degrees, k=1 (only itself): S = diag(e^(1/b)), L = I, nothing moves
    x = torch.tensor([[1., 0.], [0., 1.]])
    assert torch.allclose(gcr_rerank(x, k=1, beta=1., rounds=1), x)
    # k=2: S = [[e, 1], [1, e]] (beta 1, cos 0 -> e^0), row / column sums e + 1, so
    # L = S / (e + 1) and x0 <- (e, 1) / (e + 1), normalised
    out = gcr_rerank(x, k=2, beta=1., rounds=1)
    expect = torch.tensor([math.e, 1.]) / math.hypot(math.e, 1.)
    assert torch.allclose(out[0], expect, atol=1e-6)
    with pytest.raises(ValueError, match='beta'):
        gcr_rerank(x, beta=0.)


def _samples(emb, old, labels):
    return [dict(embedding=e, old_embedding=o, gt_label=torch.tensor([int(y)]))
            for e, o, y in zip(emb, old, labels)]


def test_metric_cross_model_pairs():
    # queries: first 2; gallery: last 3. New embeddings retrieve perfectly, old ones do not
    labels = [0, 1, 0, 1, 1]
    new = _unit([0.0, 1.5, 0.1, 1.4, 1.6])
    old = _unit([0.0, 1.5, 1.5, 0.0, 0.1])  # old gallery: item 2 (label 0) looks like label 1
    metric = QueryGalleryMAP(
        num_queries=2, topk=(1, ),
        pairs=dict(new_new=('embedding', 'embedding'), new_old=('embedding', 'old_embedding')))
    metric.process(None, _samples(new, old, labels))
    out = metric.compute_metrics(metric.results)
    assert out['new_new/mAP'] == pytest.approx(100.) and out['new_new/top1'] == 100.
    # new query 0 (angle 0) vs old gallery angles [1.5 (y0), 0.0 (y1), 0.1 (y1)]:
    # ranking 3, 4, 2 -> relevant at rank 3 -> AP 1/3, top1 0;
    # new query 1 (angle 1.5, y1): ranking 2, 4, 3 -> relevant at 2, 3 -> AP (1/2 + 2/3) / 2
    assert out['new_old/mAP'] == pytest.approx(100 * (1 / 3 + (1 / 2 + 2 / 3) / 2) / 2)
    assert out['new_old/top1'] == 0.


def test_metric_default_pair_gcr_and_errors():
    init_default_scope('mmext')
    metric = METRICS.build(dict(type='mmext.QueryGalleryMAP', num_queries=1, topk=(1, ),
                                rerank=dict(type='GCR', k=2, beta=0.5, rounds=1)))
    x = _unit([0.0, 0.1, 2.0])
    metric.process(None, _samples(x, x, [0, 0, 1]))
    assert metric.compute_metrics(metric.results) == {'mAP': 100., 'top1': 100.}
    with pytest.raises(ValueError, match='"rerank" type'):
        QueryGalleryMAP(num_queries=1, rerank=dict(type='KReciprocal'))
    with pytest.raises(ValueError, match='unknown keys'):
        QueryGalleryMAP(num_queries=1, rerank=dict(type='GCR', k1=3))
    with pytest.raises(ValueError, match='num_queries'):
        QueryGalleryMAP(num_queries=0)
    with pytest.raises(ValueError, match='pairs'):
        QueryGalleryMAP(num_queries=1, pairs=dict(a=('embedding', )))
    bad = QueryGalleryMAP(num_queries=1, pairs=dict(x=('embedding', 'old_embedding')))
    with pytest.raises(KeyError, match='old_embedding'):
        bad.process(None, [dict(embedding=x[0], gt_label=torch.tensor([0]))])
    late = QueryGalleryMAP(num_queries=3)
    late.process(None, _samples(x, x, [0, 0, 1]))
    with pytest.raises(ValueError, match='leaves no gallery'):
        late.compute_metrics(late.results)


def test_metric_reads_camera_ids():
    x = _unit([0.0, 0.05, 0.3])
    samples = _samples(x, x, [0, 0, 0])
    for s, cam in zip(samples, [1, 1, 2]):
        s['cam_id'] = cam
    metric = QueryGalleryMAP(num_queries=1, topk=(1, ))
    metric.process(None, samples)
    # the same-camera match (angle 0.05) is ignored: the other one is then first
    assert metric.compute_metrics(metric.results) == {'mAP': 100., 'top1': 100.}
