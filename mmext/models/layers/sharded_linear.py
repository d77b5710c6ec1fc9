"""A linear classifier whose classes are split over the processes (model parallelism).

Used by the one-million-way instance classifier (Liu et al., AAAI 2021, arXiv 2102.04848):
with one class per training image, the classification weights of ImageNet (1.28 M x 128) and
their logits over a large global batch do not fit one device, so each rank holds the weights
of ``1 / world_size`` of the classes while the backbone stays data-parallel ("hybrid
parallelism"). The softmax cross-entropy over the full class set is then computed exactly from
per-shard partial results (:func:`sharded_soft_cross_entropy`).
"""
from typing import List, Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn

from mmext.registry import MODELS

__all__ = ['ShardedLinear', 'shard_range', 'sharded_soft_cross_entropy', 'ddp_ignore_sharded']


def _rank_world() -> Tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_range(num_classes: int, rank: int, world_size: int) -> Tuple[int, int]:
    """``(offset, size)`` of the classes held by ``rank``: contiguous blocks, the first
    ``num_classes % world_size`` ranks holding one class more."""
    base, extra = divmod(num_classes, world_size)
    return rank * base + min(rank, extra), base + (1 if rank < extra else 0)


def _gather_rows(x: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """Concatenate the rows of every rank (``sizes[r]`` rows on rank r); no autograd."""
    if len(sizes) == 1:
        return x
    device = x.device
    if dist.get_backend() == 'nccl' and device.type != 'cuda':  # e.g. when a model is built
        x = x.cuda()
    padded = x.new_zeros((max(sizes), ) + tuple(x.shape[1:]))
    padded[:x.size(0)] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:s] for p, s in zip(parts, sizes)]).to(device)


def _all_reduce(x: torch.Tensor, op=None) -> torch.Tensor:
    if _rank_world()[1] > 1:
        dist.all_reduce(x, op=dist.ReduceOp.SUM if op is None else op)
    return x


class _ShardedSoftCrossEntropy(torch.autograd.Function):
    """Mean soft-target cross-entropy of the global batch over the classes of all shards."""

    @staticmethod
    def forward(ctx, x, weight, labels, offset, smooth, topk, grad_scale):
        rank, world = _rank_world()
        sizes = [x.size(0)]
        if world > 1:
            size = torch.tensor([x.size(0)], device=x.device)
            all_sizes = [torch.empty_like(size) for _ in range(world)]
            dist.all_gather(all_sizes, size)
            sizes = [int(s) for s in all_sizes]
        xs = _gather_rows(x.detach().float(), sizes)  # (N, d), global batch
        ys = _gather_rows(labels, sizes)  # (N, )
        w = weight.detach().float()
        logits = xs @ w.t()  # (N, C_r): this shard's classes
        num_local = w.size(0)
        rows = torch.arange(xs.size(0), device=xs.device)
        is_local = (ys >= offset) & (ys < offset + num_local)

        # softmax over all shards: global row max, then the global sum of exponentials
        row_max = _all_reduce(logits.max(dim=1).values, dist.ReduceOp.MAX)
        exp = (logits - row_max.unsqueeze(1)).exp()
        sum_exp = _all_reduce(exp.sum(dim=1))
        prob = exp / sum_exp.unsqueeze(1)
        lse = row_max + sum_exp.log()

        target = torch.zeros_like(logits)
        target[rows[is_local], ys[is_local] - offset] = 1. - smooth
        if smooth > 0:
            # the ``topk`` hardest negatives over all shards share ``smooth``
            masked = logits.clone()
            masked[rows[is_local], ys[is_local] - offset] = float('-inf')
            k = min(topk, num_local)
            vals = torch.full((xs.size(0), topk), float('-inf'), device=xs.device)
            idx = torch.full((xs.size(0), topk), -1, dtype=torch.long, device=xs.device)
            vals[:, :k], local_idx = masked.topk(k, dim=1)
            idx[:, :k] = local_idx + offset
            if world > 1:
                all_vals = [torch.empty_like(vals) for _ in range(world)]
                all_idx = [torch.empty_like(idx) for _ in range(world)]
                dist.all_gather(all_vals, vals)
                dist.all_gather(all_idx, idx)
                vals, idx = torch.cat(all_vals, dim=1), torch.cat(all_idx, dim=1)
            chosen = idx.gather(1, vals.topk(topk, dim=1).indices)  # (N, topk) class ids
            mine = (chosen >= offset) & (chosen < offset + num_local)
            r, c = mine.nonzero(as_tuple=True)
            target[r, chosen[r, c] - offset] += smooth / topk
        picked = _all_reduce((target * logits).sum(dim=1))
        loss = (lse - picked).mean()

        ctx.save_for_backward(xs, w, prob - target)
        ctx.info = (rank, sizes, grad_scale, x.dtype, weight.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        xs, w, diff = ctx.saved_tensors
        rank, sizes, grad_scale, x_dtype, w_dtype = ctx.info
        d_logits = diff * (grad_out.float() / xs.size(0))
        grad_w = d_logits.t() @ xs
        # every shard contributes to every row's feature gradient
        grad_xs = _all_reduce(d_logits @ w)
        start = sum(sizes[:rank])
        grad_x = grad_xs[start:start + sizes[rank]] * grad_scale
        return grad_x.to(x_dtype), grad_w.to(w_dtype), None, None, None, None, None


def sharded_soft_cross_entropy(x: torch.Tensor,
                               weight: torch.Tensor,
                               labels: torch.Tensor,
                               offset: int,
                               smooth: float = 0.,
                               topk: int = 0,
                               grad_scale: Optional[float] = None) -> torch.Tensor:
    """Cross-entropy of the global batch over classes split across the ranks.

    Each rank passes its own rows ``x`` and its shard of the class weights; the rows of all
    ranks are gathered, each rank computes the logits of its classes and the softmax is
    normalised over all shards (all-reduced row maximum and sum of exponentials). The target
    puts ``1 - smooth`` on the true class and ``smooth / topk`` on each of the ``topk``
    highest-scoring other classes of the whole class set (selected without gradient). Returns
    the mean over the *global* batch, identical on every rank.

    Gradients: the shard's weights get the exact gradient of that loss. The rows get it times
    ``grad_scale`` (default: the world size), which cancels the averaging of the data-parallel
    wrapper (DDP), so that the backbone's gradient after DDP equals that of one process
    holding the whole batch.

    Args:
        x (Tensor): This rank's features (already normalised / scaled), ``(n, d)``.
        weight (Tensor): This rank's classes, ``(C_r, d)``.
        labels (Tensor): Global class index of each row, ``(n, )``.
        offset (int): Global index of the shard's first class.
        smooth (float): Label mass moved to the hardest negatives. Defaults to 0.
        topk (int): Number of hardest negatives sharing it. Defaults to 0.
        grad_scale (float, optional): Factor of the feature gradient. Defaults to None (the
            world size).

    Returns:
        Tensor: Scalar loss.
    """
    if smooth > 0 and topk < 1:
        raise ValueError(f'label smoothing over the hardest classes needs topk >= 1, got {topk}')
    if grad_scale is None:
        grad_scale = float(_rank_world()[1])
    # fp32 even under AMP autocast: the softmax is normalised over all shards
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _ShardedSoftCrossEntropy.apply(x.float(), weight.float(), labels.long(), offset,
                                              float(smooth), int(topk), grad_scale)


@MODELS.register_module()
class ShardedLinear(nn.Module):
    """Bias-free linear classifier with its classes split over the ranks.

    Rank ``r`` of ``W`` processes holds the weights of the contiguous block of classes given by
    :func:`shard_range` (uneven splits: the first ranks hold one class more), as ``weight`` of
    shape ``(C_r, in_features)``. The data-parallel wrapper must leave these weights alone
    (:func:`ddp_ignore_sharded`). Checkpoints hold the full ``(num_classes, in_features)``
    matrix and are sliced again when loaded, so a checkpoint does not depend on the number of
    processes. The state dict of a multi-process layer returns a gathered copy of the full
    matrix, made by :meth:`gather_full` (a collective) when the layer is built and, during
    training, by :class:`mmext.ShardedLinearGatherHook` on every rank right before each
    checkpoint: mmengine takes the state dict on rank 0 alone when saving, where no collective
    can run, and on every rank after initialising the weights (to broadcast them, which leaves
    the identical copies unchanged). A state dict taken from a copy older than the weights is
    refused.

    Built in a single process it is a plain linear classifier. The split is fixed when the
    layer is built, from the process group in place then.

    Args:
        num_classes (int): Total number of classes.
        in_features (int): Feature width.
        init_std (float): Standard deviation of the normal initialisation. Each rank draws its
            shard from its own generator (seeded by the global seed and the rank), so shards
            differ. Defaults to 0.01.
    """

    def __init__(self, num_classes: int, in_features: int, init_std: float = 0.01) -> None:
        super().__init__()
        rank, world = _rank_world()
        if num_classes < world:
            raise ValueError(f'"num_classes" ({num_classes}) must be at least the number of '
                             f'processes ({world}): every rank holds at least one class')
        self.num_classes = num_classes
        self.in_features = in_features
        self.rank, self.world_size = rank, world
        self.offset, size = shard_range(num_classes, rank, world)
        gen = torch.Generator().manual_seed((torch.initial_seed() + rank) % (2**63))
        self.weight = nn.Parameter(torch.randn(size, in_features, generator=gen) * init_std)
        self._full = None  # the gathered (num_classes, in_features) matrix, on every rank
        self.gather_full()

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, in_features={self.in_features}, '
                f'shard=[{self.offset}, {self.offset + self.weight.size(0)}) of rank '
                f'{self.rank}/{self.world_size}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of this rank's classes, ``(B, C_r)``."""
        return x @ self.weight.t()

    @torch.no_grad()
    def gather_full(self) -> None:
        """Gather the full weight matrix from all ranks (a collective: every rank calls it)."""
        if self.world_size > 1:
            sizes = [shard_range(self.num_classes, r, self.world_size)[1]
                     for r in range(self.world_size)]
            self._full = _gather_rows(self.weight.detach().clone(), sizes)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        weight = self.weight if keep_vars else self.weight.detach()
        if self.world_size > 1:
            rows = slice(self.offset, self.offset + self.weight.size(0))
            # all ranks update their shards in the same steps: an unchanged own shard means
            # an up-to-date copy
            if self._full is None or not torch.equal(
                    self._full[rows].to(weight.device), weight.detach()):
                raise RuntimeError(
                    'ShardedLinear: the state dict of a multi-process classifier needs the '
                    'shards gathered since the last update; add '
                    "dict(type='mmext.ShardedLinearGatherHook') to custom_hooks (or call "
                    'gather_full() on every rank first)')
            weight = self._full.to(weight.device)
        destination[prefix + 'weight'] = weight

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'weight'
        full = state_dict.get(key)
        if full is not None and full.dim() == 2 and full.size(0) == self.num_classes:
            state_dict[key] = full[self.offset:self.offset + self.weight.size(0)]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._full = None  # the other shards changed too: gather again before saving


def ddp_ignore_sharded(model: nn.Module) -> None:
    """Mark the parameters of every :class:`ShardedLinear` in ``model`` to be ignored by
    DistributedDataParallel (no broadcast at start, no gradient averaging): each rank holds
    different classes, possibly of different counts."""
    names = [f'{mname}.{pname}' if mname else pname
             for mname, module in model.named_modules() if isinstance(module, ShardedLinear)
             for pname, _ in module.named_parameters(recurse=False)]
    model._ddp_params_and_buffers_to_ignore = names
