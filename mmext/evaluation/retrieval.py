"""Retrieval metrics: Recall@K for metric learning, Hamming-ranking mAP for hashing, and
query / gallery mAP + CMC (re-ID protocol) with cross-model retrieval and GCR re-ranking.

Both metrics rank the evaluated set against itself with the query excluded (leave-one-out):
every sample is a query and all *other* samples of the evaluated split are the database.
This is the protocol of metric-learning papers (SoftTriple, arXiv 1909.05235, reports
Recall@K on the test classes that way) and lets one evaluation loop serve hashing too. Hashing
papers (e.g. HyP^2, arXiv 2208.06866) use a separate query split against a database split;
``HashingMAP`` reproduces that by giving ``num_queries``: the first ``num_queries`` samples are
the queries and the rest the database (order the val dataset accordingly).
``QueryGalleryMAP`` is the re-ID / landmark protocol: a query / gallery split, cosine ranking,
mAP and CMC top-k, optionally ignoring same-identity gallery items from the query's camera, the
query features of one model against a gallery indexed by another (compatible model upgrades,
arXiv 2201.09724) and GCR re-ranking (arXiv 2107.02220).
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from mmext.registry import METRICS

__all__ = [
    'RecallAtK', 'HashingMAP', 'QueryGalleryMAP', 'recall_at_k', 'hamming_map', 'reid_map_cmc',
    'gcr_rerank'
]


def _relevance(query_labels: torch.Tensor, db_labels: torch.Tensor) -> torch.Tensor:
    """Boolean ``(Q, N)`` relevance: same class (1-D labels) or a shared label (multi-hot)."""
    if query_labels.dim() == 1:
        return query_labels[:, None] == db_labels[None, :]
    return query_labels.float().matmul(db_labels.float().t()) > 0


def recall_at_k(embeddings: torch.Tensor,
                labels: torch.Tensor,
                topk: Sequence[int] = (1, 2, 4, 8),
                chunk_size: int = 1024) -> List[float]:
    """Leave-one-out Recall@K with cosine similarity.

    A query counts as a hit at ``k`` if one of its ``k`` nearest other samples (by cosine
    similarity) has its label.

    Args:
        embeddings (Tensor): ``(N, D)`` embeddings (normalised here).
        labels (Tensor): ``(N, )`` class indices or ``(N, C)`` multi-hot labels (relevant =
            a shared label).
        topk (Sequence[int]): Values of ``k``. Defaults to ``(1, 2, 4, 8)``.
        chunk_size (int): Queries per similarity block (memory bound). Defaults to 1024.

    Returns:
        list[float]: Recall@k in ``[0, 1]`` for each ``k``.
    """
    n = embeddings.size(0)
    kmax = max(topk)
    if kmax >= n:
        raise ValueError(f'max(topk)={kmax} needs at least {kmax + 1} samples, got {n}')
    emb = torch.nn.functional.normalize(embeddings.float(), dim=1)
    hits = torch.zeros(len(topk), dtype=torch.long)
    for start in range(0, n, chunk_size):
        sim = emb[start:start + chunk_size].matmul(emb.t())
        rows = torch.arange(sim.size(0))
        sim[rows, rows + start] = float('-inf')  # exclude the query itself
        nn_idx = sim.topk(kmax, dim=1).indices  # (q, kmax)
        query_labels = labels[start:start + chunk_size]
        if labels.dim() == 1:
            match = labels[nn_idx] == query_labels[:, None]
        else:  # multi-hot: a neighbour is relevant if it shares a label
            match = (labels[nn_idx] * query_labels[:, None, :]).sum(-1) > 0
        for i, k in enumerate(topk):
            hits[i] += match[:, :k].any(dim=1).sum()
    return [h.item() / n for h in hits]


def hamming_map(query_codes: torch.Tensor,
                query_labels: torch.Tensor,
                db_codes: torch.Tensor,
                db_labels: torch.Tensor,
                topk: Sequence[Optional[int]] = (None, ),
                exclude_self: bool = False,
                chunk_size: int = 512) -> List[float]:
    """Mean average precision of Hamming ranking.

    The database is sorted by Hamming distance to each query (ties keep database order, a
    stable sort, so results are deterministic). ``AP@R`` of a query is the mean of the
    precisions at the ranks of its relevant items within the top ``R``; a query with no
    relevant item in its top ``R`` has AP 0. This is the convention of the HyP^2 code.

    Args:
        query_codes (Tensor): ``(Q, K)`` codes in ``{-1, +1}``.
        query_labels (Tensor): ``(Q, )`` class indices or ``(Q, C)`` multi-hot labels.
        db_codes (Tensor): ``(N, K)`` codes in ``{-1, +1}``.
        db_labels (Tensor): Labels of the database, same kind as ``query_labels``.
        topk (Sequence[int | None]): Cut-offs ``R``; ``None`` means the whole database
            (mAP@all). Defaults to ``(None, )``.
        exclude_self (bool): Queries are the first ``Q`` database items and must not retrieve
            themselves (leave-one-out). Defaults to False.
        chunk_size (int): Queries per block. Defaults to 512.

    Returns:
        list[float]: mAP for each cut-off.
    """
    q_num, code_length = query_codes.shape
    n = db_codes.size(0) - (1 if exclude_self else 0)
    cutoffs = [n if r is None else min(r, n) for r in topk]
    qc, dc = query_codes.float(), db_codes.float()
    ap_sum = torch.zeros(len(cutoffs), dtype=torch.float64)
    for start in range(0, q_num, chunk_size):
        # Hamming distance of +-1 codes: (K - <q, d>) / 2
        dist = 0.5 * (code_length - qc[start:start + chunk_size].matmul(dc.t()))
        rel = _relevance(query_labels[start:start + chunk_size], db_labels)
        if exclude_self:
            rows = torch.arange(dist.size(0))
            dist[rows, rows + start] = float('inf')  # sorted last, then dropped
        order = torch.sort(dist, dim=1, stable=True).indices[:, :n]
        rel = rel.gather(1, order).double()  # (q, n) relevance in ranked order
        ranks = torch.arange(1, n + 1, dtype=torch.float64)
        for i, r in enumerate(cutoffs):
            rel_r = rel[:, :r]
            precision = rel_r.cumsum(1) / ranks[:r]
            num_rel = rel_r.sum(1)
            ap = (precision * rel_r).sum(1) / num_rel.clamp_min(1.)
            ap_sum[i] += ap.sum()
    return (ap_sum / q_num).tolist()


def _checked_topk(topk: Sequence[int]) -> Tuple[int, ...]:
    """``topk`` as a tuple, refusing an empty one or a value that is not a positive int."""
    topk = tuple(topk)
    if not topk or any(int(k) != k or k < 1 for k in topk):
        raise ValueError(f'"topk" must be positive integers, got {topk}')
    return topk


def _label_of(sample: dict) -> torch.Tensor:
    """Class index (single-label) or multi-hot ``gt_score`` of a packed data sample."""
    if 'gt_score' in sample:
        return sample['gt_score'].float().cpu()
    label = sample['gt_label']
    if label.numel() != 1:
        raise ValueError('multi-label samples need "gt_score" (multi-hot) for retrieval')
    return label.reshape(()).cpu()


@METRICS.register_module()
class RecallAtK(BaseMetric):
    """Recall@K of embedding retrieval, as reported by deep-metric-learning papers.

    Used for SoftTriple ("SoftTriple Loss: Deep Metric Learning Without Triplet Sampling",
    Qian et al., ICCV 2019, arXiv 1909.05235), which reports Recall@1/2/4/8 (CUB, Cars). Every
    evaluated sample queries all other samples by cosine similarity of the ``embedding`` field
    set by the head (e.g. :class:`mmext.SoftTripleHead`); a hit at ``k`` means a same-class
    sample among the ``k`` nearest.

    Args:
        topk (Sequence[int]): The ``k`` values. Defaults to ``(1, 2, 4, 8)``.
        chunk_size (int): Queries per similarity block. Defaults to 1024.
        collect_device (str): Device to gather results across ranks. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'retrieval'.
    """
    default_prefix: Optional[str] = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = (1, 2, 4, 8),
                 chunk_size: int = 1024,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = _checked_topk(topk)
        self.chunk_size = chunk_size

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'embedding' not in sample:
                raise KeyError('RecallAtK needs an "embedding" field in the predictions; use a '
                               'head that sets it (e.g. mmext.SoftTripleHead)')
            self.results.append((sample['embedding'].float().cpu(), _label_of(sample)))

    def compute_metrics(self, results: List[Tuple[torch.Tensor, torch.Tensor]]) -> dict:
        emb = torch.stack([r[0] for r in results])
        labels = torch.stack([r[1] for r in results])
        recalls = recall_at_k(emb, labels, self.topk, self.chunk_size)
        return {f'Recall@{k}': 100. * r for k, r in zip(self.topk, recalls)}


@METRICS.register_module()
class HashingMAP(BaseMetric):
    """mAP of Hamming ranking for deep hashing (mAP@all and mAP@R).

    Used for HyP^2 ("HyP^2 Loss: Beyond Hypersphere Metric Space for Multi-label Image
    Retrieval", Xu et al., ACM MM 2022, arXiv 2208.06866), which reports mAP@R of Hamming
    ranking (R = 1,000 on Flickr-25k, 5,000 on NUS-WIDE, the database size on VOC). Codes come
    from the ``hash_code`` field (``+1 / -1``) set by :class:`mmext.HashingHead`; relevance is
    "same class" (single-label) or "at least one shared label" (multi-hot ``gt_score``).

    Protocol: by default every evaluated sample queries all *other* evaluated samples
    (leave-one-out on the val split). With ``num_queries=q`` the first ``q`` samples are the
    queries and the remaining ones the database (the papers' query / database split).

    Args:
        topk (Sequence[int | None]): Cut-offs ``R``; ``None`` is mAP@all. Defaults to
            ``(None, 1000)``.
        num_queries (int, optional): Query / database split as above. Defaults to None.
        chunk_size (int): Queries per distance block. Defaults to 512.
        collect_device (str): Device to gather results across ranks. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'retrieval'.
    """
    default_prefix: Optional[str] = 'retrieval'

    def __init__(self,
                 topk: Sequence[Optional[int]] = (None, 1000),
                 num_queries: Optional[int] = None,
                 chunk_size: int = 512,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = tuple(topk)
        if not topk or any(r is not None and (int(r) != r or r < 1) for r in topk):
            raise ValueError(f'"topk" must be positive integers or None, got {topk}')
        if num_queries is not None and num_queries < 1:
            raise ValueError(f'"num_queries" must be >= 1 or None, got {num_queries}')
        self.topk = topk
        self.num_queries = num_queries
        self.chunk_size = chunk_size

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'hash_code' not in sample:
                raise KeyError('HashingMAP needs a "hash_code" field in the predictions; use a '
                               'head that sets it (e.g. mmext.HashingHead)')
            self.results.append((sample['hash_code'].float().cpu(), _label_of(sample)))

    def compute_metrics(self, results: List[Tuple[torch.Tensor, torch.Tensor]]) -> dict:
        codes = torch.stack([r[0] for r in results])
        labels = torch.stack([r[1] for r in results])
        if self.num_queries is None:
            maps = hamming_map(codes, labels, codes, labels, self.topk, exclude_self=True,
                               chunk_size=self.chunk_size)
        else:
            q = self.num_queries
            if q >= codes.size(0):
                raise ValueError(f'num_queries={q} leaves no database in {codes.size(0)} samples')
            maps = hamming_map(codes[:q], labels[:q], codes[q:], labels[q:], self.topk,
                               chunk_size=self.chunk_size)
        return {f'mAP@{"all" if r is None else r}': 100. * m for r, m in zip(self.topk, maps)}


def reid_map_cmc(query_feats: torch.Tensor,
                 query_labels: torch.Tensor,
                 gallery_feats: torch.Tensor,
                 gallery_labels: torch.Tensor,
                 topk: Sequence[int] = (1, 5, 10),
                 query_cams: Optional[torch.Tensor] = None,
                 gallery_cams: Optional[torch.Tensor] = None,
                 chunk_size: int = 512) -> Tuple[float, List[float], int]:
    """mAP and CMC of cosine ranking, re-ID style (Market-1501 / torchreid protocol).

    The gallery is sorted by cosine similarity to each query (ties keep gallery order). A
    gallery item is relevant when it has the query's identity. With camera ids, gallery items
    of the query's identity *and* camera are removed from the ranking (they are "junk", not
    negatives), as in the re-ID benchmarks. AP is the mean precision at the ranks of the
    relevant items (non-interpolated, as torchreid / reid-strong-baseline; the MATLAB
    Market-1501 code averages trapezoids instead); CMC@k is 1 when a relevant item is among the
    first ``k`` kept items. Queries without any relevant gallery item are left out of both.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features (normalised here).
        query_labels (Tensor): ``(Q, )`` identities.
        gallery_feats (Tensor): ``(G, D)`` gallery features, possibly of another model with the
            same ``D`` (cross-model retrieval).
        gallery_labels (Tensor): ``(G, )`` identities.
        topk (Sequence[int]): CMC ranks. Defaults to ``(1, 5, 10)``.
        query_cams (Tensor, optional): ``(Q, )`` camera ids. Defaults to None.
        gallery_cams (Tensor, optional): ``(G, )`` camera ids; both or neither. Defaults to None.
        chunk_size (int): Queries per block. Defaults to 512.

    Returns:
        tuple: ``(mAP, [CMC@k for k in topk], number of evaluated queries)``, values in [0, 1].
    """
    if query_feats.size(1) != gallery_feats.size(1):
        raise ValueError(f'query features {tuple(query_feats.shape)} and gallery features '
                         f'{tuple(gallery_feats.shape)} must have the same dimension')
    if (query_cams is None) != (gallery_cams is None):
        raise ValueError('give camera ids for both queries and gallery, or for neither')
    q = F.normalize(query_feats.float(), dim=1)
    g = F.normalize(gallery_feats.float(), dim=1)
    ap_sum, valid = 0., 0
    hits = torch.zeros(len(topk), dtype=torch.float64)
    for start in range(0, q.size(0), chunk_size):
        sim = q[start:start + chunk_size].matmul(g.t())
        order = torch.sort(sim, dim=1, descending=True, stable=True).indices
        ql = query_labels[start:start + chunk_size]
        same_id = gallery_labels[order] == ql[:, None]  # (q, G) in ranked order
        keep = torch.ones_like(same_id)
        if query_cams is not None:
            qc = query_cams[start:start + chunk_size]
            keep = ~(same_id & (gallery_cams[order] == qc[:, None]))
        rel = (same_id & keep).double()
        num_rel = rel.sum(1)
        ok = num_rel > 0
        ranks = keep.double().cumsum(1)  # rank of each item among the kept ones
        precision = rel.cumsum(1) / ranks.clamp_min(1.)
        ap = (precision * rel).sum(1) / num_rel.clamp_min(1.)
        # rank of the first relevant kept item (inf when none)
        first = torch.where(rel > 0, ranks, torch.full_like(ranks, float('inf'))).min(1).values
        ap_sum += ap[ok].sum().item()
        valid += int(ok.sum())
        for i, k in enumerate(topk):
            hits[i] += (first[ok] <= k).sum()
    if valid == 0:
        raise ValueError('no query has a relevant gallery item: check the query / gallery split')
    return ap_sum / valid, (hits / valid).tolist(), valid


def gcr_rerank(feats: torch.Tensor,
               k: int = 45,
               beta: float = 0.08,
               rounds: int = 3,
               symmetric: bool = False) -> torch.Tensor:
    """GCR: graph-convolution re-ranking of features (global branch).

    From "Graph Convolution for Re-ranking in Person Re-identification" (Zhang et al., arXiv
    2107.02220; official code WesleyZhang1991/GCN_rerank, ``mergesetfeat4``). All query and
    gallery features form one graph. Each round, node ``i`` keeps its ``k`` most similar nodes
    (cosine, itself included) with affinities ``S_ij = exp(s_ij / beta)``, the affinity matrix is
    normalised as ``L = D_r^-1/2 S D_c^-1/2`` (row and column sums), features are propagated
    ``X <- L X`` and re-normalised. The cross-camera branch of the paper (a second graph over
    other cameras' neighbours mixed in with weight ``SCALE``) is left out: it needs camera ids
    and equals ``SCALE=0`` of the official code.

    Args:
        feats (Tensor): ``(N, D)`` features of queries and gallery together.
        k (int): Neighbours per node, itself included (official ``K1``). Defaults to 45
            (official default; its Market-1501 config uses 15).
        beta (float): Temperature of the affinities (``BETA1``). Defaults to 0.08 (official
            default; Market-1501 config 0.2).
        rounds (int): Propagation rounds (``GAL_ROUND``). Defaults to 3.
        symmetric (bool): Symmetrise ``S`` as ``(S + S^T) / 2`` (official ``MODE='sym'``).
            Defaults to False (``'nonsym'``, the default).

    Returns:
        Tensor: ``(N, D)`` re-ranked, L2-normalised features.
    """
    if k < 1 or rounds < 1 or beta <= 0:
        raise ValueError(f'GCR needs k >= 1, rounds >= 1 and beta > 0, got k={k}, '
                         f'rounds={rounds}, beta={beta}')
    x = F.normalize(feats.float(), dim=1)
    n = x.size(0)
    rows = torch.arange(n)
    for _ in range(rounds):
        sim = x.matmul(x.t())
        idx = torch.sort(sim, dim=1, descending=True, stable=True).indices[:, :min(k, n)]
        # exp((s - 1) / beta): a constant factor cancels in D_r^-1/2 S D_c^-1/2, and it cannot
        # overflow for small beta
        s = torch.zeros_like(sim)
        s.scatter_(1, idx, ((sim.gather(1, idx) - 1.) / beta).exp())
        s[rows, rows] = ((sim[rows, rows] - 1.) / beta).exp()
        if symmetric:
            s = 0.5 * (s + s.t())
        d_row = s.sum(1).rsqrt()
        d_col = s.sum(0).rsqrt()
        x = F.normalize((d_row[:, None] * s * d_col[None, :]).matmul(x), dim=1)
    return x


_GCR_KEYS = {'type', 'k', 'beta', 'rounds', 'symmetric'}


@METRICS.register_module()
class QueryGalleryMAP(BaseMetric):
    """mAP and CMC top-k of a query / gallery split, with cross-model retrieval and GCR.

    The protocol of re-ID and landmark-retrieval papers, and of compatible model upgrades
    ("Hot-Refresh Model Upgrades with Regression-Alleviating Compatible Training in Image
    Retrieval", Zhang et al., ICLR 2022, arXiv 2201.09724; "Privacy-Preserving Model Upgrades
    with Bidirectional Compatible Training in Image Retrieval", Su et al., arXiv 2204.13919),
    which compare the old-old, new-old (new queries against the old gallery) and new-new
    settings. The first ``num_queries`` evaluated samples are the queries, the rest the
    gallery; relevance is "same class / identity" and ranking is by cosine similarity. Each
    entry of ``pairs`` names the prediction field read for the queries and the one read for the
    gallery: :class:`mmext.CompatibleDistiller` sets ``embedding`` (new model) and
    ``old_embedding`` (frozen old model). With camera ids in the samples (``camera_key``),
    same-identity gallery items of the query's camera are ignored (re-ID protocol).
    ``rerank=dict(type='GCR', ...)`` re-ranks each pair with :func:`gcr_rerank`
    ("Graph Convolution for Re-ranking in Person Re-identification", arXiv 2107.02220) before
    the ranking.

    Args:
        num_queries (int): Number of queries (the first samples in dataset order).
        topk (Sequence[int]): CMC ranks. Defaults to ``(1, 5, 10)``.
        pairs (dict[str, tuple[str, str]], optional): Name -> (query field, gallery field).
            Metrics are logged as ``{name}/mAP``, ``{name}/top{k}``. Defaults to None, which
            means ``{'': ('embedding', 'embedding')}`` (logged as ``mAP``, ``top{k}``).
        camera_key (str, optional): Data-sample field with the camera id; used when present.
            Defaults to ``'cam_id'``.
        rerank (dict, optional): ``dict(type='GCR', k=45, beta=0.08, rounds=3,
            symmetric=False)`` (any subset of the keys). Defaults to None.
        chunk_size (int): Queries per similarity block. Defaults to 512.
        collect_device (str): Device to gather results across ranks. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'retrieval'.
    """
    default_prefix: Optional[str] = 'retrieval'

    def __init__(self,
                 num_queries: int,
                 topk: Sequence[int] = (1, 5, 10),
                 pairs: Optional[Dict[str, Sequence[str]]] = None,
                 camera_key: Optional[str] = 'cam_id',
                 rerank: Optional[dict] = None,
                 chunk_size: int = 512,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = _checked_topk(topk)
        if not isinstance(num_queries, int) or num_queries < 1:
            raise ValueError(f'"num_queries" must be an int >= 1, got {num_queries!r}')
        pairs = {'': ('embedding', 'embedding')} if pairs is None else dict(pairs)
        for name, pair in pairs.items():
            if len(tuple(pair)) != 2 or not all(isinstance(p, str) for p in pair):
                raise ValueError(f'"pairs"["{name}"] must be (query field, gallery field), '
                                 f'got {pair!r}')
        if rerank is not None:
            rerank = dict(rerank)
            if rerank.get('type') != 'GCR':
                raise ValueError(f'"rerank" type must be "GCR", got {rerank.get("type")!r}')
            unknown = set(rerank) - _GCR_KEYS
            if unknown:
                raise ValueError(f'"rerank" has unknown keys {sorted(unknown)}; '
                                 f'valid: {sorted(_GCR_KEYS)}')
        self.num_queries = num_queries
        self.topk = topk
        self.pairs = {name: tuple(pair) for name, pair in pairs.items()}
        self.fields = sorted({f for pair in self.pairs.values() for f in pair})
        self.camera_key = camera_key
        self.rerank = rerank
        self.chunk_size = chunk_size

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [f for f in self.fields if f not in sample]
            if missing:
                raise KeyError(f'QueryGalleryMAP needs the prediction fields {missing}; use a '
                               'model that sets them (e.g. mmext.CompatibleDistiller sets '
                               '"embedding" and "old_embedding")')
            feats = {f: sample[f].float().cpu().reshape(-1) for f in self.fields}
            cam = sample.get(self.camera_key) if self.camera_key else None
            cam = None if cam is None else torch.as_tensor(cam).reshape(())
            self.results.append((feats, _label_of(sample), cam))

    def compute_metrics(self, results: List[tuple]) -> dict:
        q = self.num_queries
        if q >= len(results):
            raise ValueError(f'num_queries={q} leaves no gallery in {len(results)} samples')
        labels = torch.stack([r[1] for r in results])
        cams = None
        if all(r[2] is not None for r in results):
            cams = torch.stack([r[2] for r in results])
        out = {}
        for name, (q_field, g_field) in self.pairs.items():
            qf = torch.stack([r[0][q_field] for r in results[:q]])
            gf = torch.stack([r[0][g_field] for r in results[q:]])
            if self.rerank is not None:
                kwargs = {k: v for k, v in self.rerank.items() if k != 'type'}
                both = gcr_rerank(torch.cat([qf, gf]), **kwargs)
                qf, gf = both[:q], both[q:]
            m_ap, cmc, _ = reid_map_cmc(
                qf, labels[:q], gf, labels[q:], self.topk,
                None if cams is None else cams[:q], None if cams is None else cams[q:],
                self.chunk_size)
            key = f'{name}/' if name else ''
            out[f'{key}mAP'] = 100. * m_ap
            out.update({f'{key}top{k}': 100. * c for k, c in zip(self.topk, cmc)})
        return out
