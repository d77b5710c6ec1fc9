"""Two-way centre-aware pair selection of CDTrans (arXiv 2109.06165), as a training hook."""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, Runner
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mmext.datasets.cdtrans_pair_dataset import SourceTargetPairDataset
from mmext.registry import DATASETS, HOOKS

__all__ = ['CDTransPairHook', 'center_aware_pseudo_labels', 'two_way_pairs']

CKPT_KEY = 'cdtrans_pairs'


def center_aware_pseudo_labels(feats: Tensor, logits: Tensor, threshold: int = 0,
                               rounds: int = 1) -> Tensor:
    """Pseudo-labels of the target samples by their nearest class centre (cosine).

    The centre-aware labelling of CDTrans (the official ``obtain_label``, the SHOT clustering):
    features get a constant 1 appended and are L2-normalised; the initial class centres are the
    softmax-weighted means of the features; each sample takes the class of its most cosine-similar
    centre, among the classes predicted (argmax) for more than ``threshold`` samples; then
    ``rounds`` times the centres become the means of the samples so labelled and the samples are
    relabelled.

    Args:
        feats (Tensor): Target features (N, C).
        logits (Tensor): Classifier logits of the same samples (N, K).
        threshold (int): A class is a candidate if more than this many samples predict it.
            Defaults to 0.
        rounds (int): Refinement rounds with hard labels. Defaults to 1.

    Returns:
        Tensor: (N, ) int64 pseudo-labels.
    """
    probs = logits.float().softmax(dim=1)
    K = probs.size(1)
    f = torch.cat([feats.float(), feats.new_ones(feats.size(0), 1)], dim=1)
    f = f / f.norm(dim=1, keepdim=True)
    counts = torch.bincount(probs.argmax(dim=1), minlength=K)
    labelset = torch.nonzero(counts > threshold).flatten()
    if len(labelset) == 0:
        raise ValueError(f'no class is predicted for more than "threshold"={threshold} samples')

    def assign(weights: Tensor) -> Tensor:
        # (K, N) @ (N, C + 1) -> (K, C + 1) weighted class means
        centres = weights.t() @ f / (1e-8 + weights.sum(dim=0)[:, None])
        cos = f @ F.normalize(centres[labelset], dim=1).t()
        return labelset[cos.argmax(dim=1)]

    labels = assign(probs)
    for _ in range(rounds):
        labels = assign(F.one_hot(labels, K).float())
    return labels


def two_way_pairs(source_feats: Tensor,
                  target_feats: Tensor,
                  source_labels: Tensor,
                  target_labels: Tensor,
                  label_filter: bool = True,
                  chunk_size: int = 4096) -> Tuple[Tensor, Tensor]:
    """Two-way nearest-neighbour source-target pairs, filtered by label agreement.

    Each target sample is paired with its most cosine-similar source sample and each source
    sample with its most similar target sample (official ``topk=1`` both ways); with
    ``label_filter`` a pair is kept only if the source label equals the target pseudo-label (the
    official ``WITH_PSEUDO_LABEL_FILTER``). Target-side pairs come first, then source-side
    pairs, as in the official ``generate_new_dataset``; a pair found both ways appears twice.
    Ties go to the lowest index (``torch.max``).

    Args:
        source_feats (Tensor): (Ns, C) source features.
        target_feats (Tensor): (Nt, C) target features.
        source_labels (Tensor): (Ns, ) source labels.
        target_labels (Tensor): (Nt, ) target pseudo-labels.
        label_filter (bool): Keep only label-consistent pairs. Defaults to True.
        chunk_size (int): Source rows of the similarity matrix computed at once. Defaults to 4096.

    Returns:
        tuple[Tensor, Tensor]: Source and target indices of the kept pairs.
    """
    fs = source_feats.float() / (source_feats.float().norm(dim=1, keepdim=True) + 1e-8)
    ft = target_feats.float() / (target_feats.float().norm(dim=1, keepdim=True) + 1e-8)
    Ns, Nt = fs.size(0), ft.size(0)
    source_nn = torch.empty(Ns, dtype=torch.long)
    target_best = torch.full((Nt, ), -float('inf'))
    target_nn = torch.zeros(Nt, dtype=torch.long)
    for start in range(0, Ns, chunk_size):
        sim = fs[start:start + chunk_size] @ ft.t()  # (chunk, Nt)
        source_nn[start:start + chunk_size] = sim.argmax(dim=1).cpu()
        best, idx = sim.max(dim=0)
        better = best.cpu() > target_best  # strict: earlier chunks win ties
        target_best[better] = best.cpu()[better]
        target_nn[better] = idx.cpu()[better] + start
    source_labels, target_labels = source_labels.cpu(), target_labels.cpu()
    keep_t = torch.ones(Nt, dtype=torch.bool)
    keep_s = torch.ones(Ns, dtype=torch.bool)
    if label_filter:
        keep_t = source_labels[target_nn] == target_labels
        keep_s = target_labels[source_nn] == source_labels
    source_index = torch.cat([target_nn[keep_t], torch.arange(Ns)[keep_s]])
    target_index = torch.cat([torch.arange(Nt)[keep_t], source_nn[keep_s]])
    return source_index, target_index


@HOOKS.register_module()
class CDTransPairHook(Hook):
    """Chooses the source-target training pairs of CDTrans and refreshes them periodically.

    From "CDTrans: Cross-domain Transformer for Unsupervised Domain Adaptation" (Xu et al.,
    ICLR 2022, arXiv 2109.06165). Before the first epoch and then every ``interval`` epochs
    (official: 10 of 40, at epochs 1, 11, 21, 31), the model in eval mode embeds every source and
    target training image (without augmentation) with its target path (backbone + neck, the
    official ``NECK_FEAT='after'`` feature) and classifies them; the target pseudo-labels come
    from :func:`center_aware_pseudo_labels`, the pairs from :func:`two_way_pairs`, and are set
    in the train loader's :class:`mmext.SourceTargetPairDataset`. The pairs are stored in every
    checkpoint and restored on resume, so a resumed run uses the pairs it was trained with.
    Target ground-truth labels, if the target dataset has them, are only used for the logged
    pseudo-label accuracy.

    Args:
        source (dict | Dataset): The source training set with the *test* pipeline, in the same
            order as ``train_dataloader.dataset.source``.
        target (dict | Dataset): The target training set with the test pipeline, in the order
            of ``train_dataloader.dataset.target``.
        interval (int): Epochs between refreshes. Defaults to 10.
        pseudo_label_filter (bool): Keep only pairs whose source label equals the target
            pseudo-label. Defaults to True.
        label_threshold (int): See :func:`center_aware_pseudo_labels`. Defaults to 0.
        refine_rounds (int): See :func:`center_aware_pseudo_labels`. Defaults to 1.
        batch_size (int): Batch size of the feature passes. Defaults to 256.
        num_workers (int): Workers of the feature passes. Defaults to 0.
    """

    priority = 'NORMAL'

    def __init__(self,
                 source: Union[dict, Dataset],
                 target: Union[dict, Dataset],
                 interval: int = 10,
                 pseudo_label_filter: bool = True,
                 label_threshold: int = 0,
                 refine_rounds: int = 1,
                 batch_size: int = 256,
                 num_workers: int = 0) -> None:
        for key, value, low in (('interval', interval, 1), ('label_threshold', label_threshold, 0),
                                ('refine_rounds', refine_rounds, 0),
                                ('batch_size', batch_size, 1), ('num_workers', num_workers, 0)):
            if value < low:
                raise ValueError(f'"{key}" must be >= {low}, got {value}')
        self.source = source
        self.target = target
        self.interval = interval
        self.pseudo_label_filter = pseudo_label_filter
        self.label_threshold = label_threshold
        self.refine_rounds = refine_rounds
        self.batch_size = batch_size
        self.num_workers = num_workers
        self._restored: Optional[dict] = None

    @staticmethod
    def _pair_dataset(runner: Runner) -> SourceTargetPairDataset:
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, SourceTargetPairDataset):
            raise TypeError('CDTransPairHook needs "train_dataloader.dataset" to be '
                            f'mmext.SourceTargetPairDataset, got {type(dataset).__name__}')
        return dataset

    def before_train(self, runner: Runner) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise TypeError('CDTransPairHook refreshes pairs by epoch: use an epoch-based '
                            '"train_cfg" (by_epoch=True)')
        loader = runner.train_dataloader
        if loader.num_workers > 0 and loader.persistent_workers:
            raise ValueError('"train_dataloader.persistent_workers" must be False with '
                             'CDTransPairHook: persistent workers keep stale copies of the pairs')
        pairs = self._pair_dataset(runner)
        if isinstance(self.source, dict):
            self.source = DATASETS.build(self.source)
        if isinstance(self.target, dict):
            self.target = DATASETS.build(self.target)
        for name, mine, theirs in (('source', self.source, pairs.source),
                                   ('target', self.target, pairs.target)):
            if len(mine) != len(theirs):
                raise ValueError(f'CDTransPairHook "{name}" has {len(mine)} samples but '
                                 f'train_dataloader.dataset.{name} has {len(theirs)}: they must '
                                 'be the same images (test vs training pipeline)')

    def before_train_epoch(self, runner: Runner) -> None:
        dataset = self._pair_dataset(runner)
        if self._restored is not None:
            dataset.load_pair_state(self._restored)
            self._restored = None
        if runner.epoch % self.interval == 0 or dataset.num_pairs == 0:
            self.refresh(runner)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint[CKPT_KEY] = self._pair_dataset(runner).pair_state()

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if CKPT_KEY in checkpoint:
            self._restored = checkpoint[CKPT_KEY]

    @torch.no_grad()
    def _embed(self, model, dataset: Dataset) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Neck features, logits and (if every sample has one) labels, in dataset order."""
        loader = DataLoader(dataset, batch_size=self.batch_size, shuffle=False,
                            num_workers=self.num_workers, collate_fn=pseudo_collate)
        feats, logits, labels = [], [], []
        for data in loader:
            data = model.data_preprocessor(data, False)
            f = model.extract_feat(data['inputs'])
            feats.append(f[-1].float().cpu())
            logits.append(model.head(f).float().cpu())
            labels.append([s.get('gt_label') for s in data['data_samples']])
        labels = sum(labels, [])
        gt = None if any(y is None for y in labels) else torch.cat(labels).cpu()
        return torch.cat(feats), torch.cat(logits), gt

    def refresh(self, runner: Runner) -> None:
        """Recompute pseudo-labels and pairs with the current model."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training
        model.eval()
        try:
            fs, _, ys = self._embed(model, self.source)
            ft, logits_t, yt = self._embed(model, self.target)
        finally:
            model.train(was_training)
        if ys is None:
            raise ValueError('CDTransPairHook "source" samples need gt_label')
        pseudo = center_aware_pseudo_labels(ft, logits_t, self.label_threshold,
                                            self.refine_rounds)
        s_idx, t_idx = two_way_pairs(fs, ft, ys, pseudo, self.pseudo_label_filter)
        dataset = self._pair_dataset(runner)
        dataset.set_pairs(s_idx, t_idx, pseudo[t_idx])
        msg = (f'CDTrans pairs (epoch {runner.epoch}): {len(s_idx)} pairs from '
               f'{len(fs)} source / {len(ft)} target samples')
        if yt is not None:
            argmax_acc = (logits_t.argmax(1) == yt).float().mean().item() * 100
            pseudo_acc = (pseudo == yt).float().mean().item() * 100
            pair_acc = (yt[t_idx] == ys[s_idx]).float().mean().item() * 100
            msg += (f'; target labels (diagnostic only): classifier {argmax_acc:.2f}%, '
                    f'centre-aware {pseudo_acc:.2f}%, pairs of the same class {pair_acc:.2f}%')
        runner.logger.info(msg)

