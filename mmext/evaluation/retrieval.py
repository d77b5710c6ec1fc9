"""Retrieval metrics: Recall@K for metric learning and Hamming-ranking mAP for hashing.

Both metrics rank the evaluated set against itself with the query excluded (leave-one-out):
every sample is a query and all *other* samples of the evaluated split are the database.
This is the protocol of metric-learning papers (SoftTriple, arXiv 1909.05235, reports
Recall@K on the test classes that way) and lets one evaluation loop serve hashing too. Hashing
papers (e.g. HyP^2, arXiv 2208.06866) use a separate query split against a database split;
``HashingMAP`` reproduces that by giving ``num_queries``: the first ``num_queries`` samples are
the queries and the rest the database (order the val dataset accordingly).
"""
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric

from mmext.registry import METRICS

__all__ = ['RecallAtK', 'HashingMAP', 'recall_at_k', 'hamming_map']


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
        topk = tuple(topk)
        if not topk or any(int(k) != k or k < 1 for k in topk):
            raise ValueError(f'"topk" must be positive integers, got {topk}')
        self.topk = topk
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
