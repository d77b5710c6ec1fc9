"""Dash: Semi-Supervised Learning with Dynamic Thresholding (ICML 2021, arXiv 2109.00650).

Follows the official code (idstcv/Dash, ``dash.py`` + ``libml/train.py`` on the FixMatch
pipeline) for the selection rule, the threshold schedule, the estimate of its initial value and
the unlabelled loss; see configs/dash/README.md for the mapping of its flags.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample
from torch import Tensor

from mmext.registry import MODELS

__all__ = ['DashClassifier', 'DashThreshold', 'FixedThreshold']


class DashThreshold(nn.Module):
    """The dynamic loss threshold of Dash, with its state in buffers (exact resume).

    From "Dash: Semi-Supervised Learning with Dynamic Thresholding" (arXiv 2109.00650), as in the
    official code. Iterations are grouped in "epochs" of ``epoch_iters`` (the official code's
    report period: 64 Ki images = 1024 iterations of batch 64). The first ``warmup_epochs``
    epochs are the warm-up: every unlabelled sample is kept (official code; with
    ``warmup_unlabeled=False`` none, the labelled-only warm-up of the paper's Algorithm 1), and
    the per-sample unlabelled losses of the last ``estimate_iters`` warm-up iterations are
    averaged into ``rho_hat``. At epoch
    ``t >= warmup_epochs`` the threshold is

        rho_t = C * gamma ** -((t - 1) // decay_epochs) * rho_hat,

    (the paper's ``rho_t = C gamma^{-(t-1)} rho_hat`` with ``t`` counted in units of
    ``decay_epochs`` epochs), and a sample is kept when its selection loss is below
    ``max(rho_t, rho_min)``. Once ``rho_t <= rho_min`` the unlabelled loss switches from soft to
    hard pseudo-labels.

    Args:
        gamma (float): Decay base, > 1. Defaults to 1.27 (official).
        C (float): Scale of the initial threshold, > 0. Defaults to 1.0 (the official code
            has no such factor; the paper's ``C``).
        rho_min (float): Floor of the threshold, >= 0. Defaults to 0.05 (official
            ``min_select_th``).
        epoch_iters (int): Iterations per epoch. Defaults to 1024 (official).
        warmup_epochs (int): Warm-up epochs, >= 1 (official ``dt_start_epoch``).
            Defaults to 10.
        decay_epochs (int): Epochs per threshold step, >= 1 (official ``drop_step``).
            Defaults to 9.
        estimate_iters (int, optional): Warm-up iterations (the last ones) whose unlabelled
            losses give ``rho_hat``; at most the warm-up length. The official code averages the
            last ``N_u`` per-sample losses (N_u = unlabelled images), i.e.
            ``N_u / (mu * B)`` iterations. Defaults to None (``epoch_iters``).
        warmup_unlabeled (bool): Keep every unlabelled sample in the warm-up, as the official
            code (soft pseudo-labels of a barely trained model); False keeps none, so the
            warm-up trains on the labelled images only, as the paper's Algorithm 1 (and the
            USB / TorchSSL re-implementations) describe. ``rho_hat`` is estimated from the same
            unlabelled losses either way. Defaults to True.
    """

    def __init__(self,
                 gamma: float = 1.27,
                 C: float = 1.0,
                 rho_min: float = 0.05,
                 epoch_iters: int = 1024,
                 warmup_epochs: int = 10,
                 decay_epochs: int = 9,
                 estimate_iters: Optional[int] = None,
                 warmup_unlabeled: bool = True) -> None:
        super().__init__()
        if not gamma > 1:
            raise ValueError(f'"selection.gamma" must be > 1 (the threshold must decay), got '
                             f'{gamma}')
        if not C > 0:
            raise ValueError(f'"selection.C" must be > 0, got {C}')
        if not rho_min >= 0:
            raise ValueError(f'"selection.rho_min" must be >= 0, got {rho_min}')
        for key, value in (('epoch_iters', epoch_iters), ('warmup_epochs', warmup_epochs),
                           ('decay_epochs', decay_epochs)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'"selection.{key}" must be a positive int, got {value!r}')
        estimate_iters = epoch_iters if estimate_iters is None else estimate_iters
        warmup_iters = warmup_epochs * epoch_iters
        if not isinstance(estimate_iters, int) or not 1 <= estimate_iters <= warmup_iters:
            raise ValueError(f'"selection.estimate_iters" must be an int in [1, {warmup_iters}] '
                             f'(the warm-up iterations), got {estimate_iters!r}')
        self.gamma, self.C, self.rho_min = gamma, C, rho_min
        self.epoch_iters, self.warmup_epochs = epoch_iters, warmup_epochs
        self.decay_epochs, self.estimate_iters = decay_epochs, estimate_iters
        self.warmup_iters = warmup_iters
        self.warmup_unlabeled = bool(warmup_unlabeled)
        # iterations done, running sum / count of the warm-up losses, rho_hat (-1: not yet)
        self.register_buffer('iter', torch.zeros((), dtype=torch.long))
        self.register_buffer('loss_sum', torch.zeros((), dtype=torch.float64))
        self.register_buffer('loss_count', torch.zeros((), dtype=torch.float64))
        self.register_buffer('rho_hat', torch.full((), -1., dtype=torch.float64))

    def threshold(self, it: int) -> Optional[float]:
        """``rho_t`` at iteration ``it`` (before the ``rho_min`` floor); None in the warm-up."""
        if it < self.warmup_iters:
            return None
        if self.rho_hat < 0:
            raise RuntimeError('DashThreshold: rho_hat was not estimated (state from a '
                               'checkpoint without the warm-up?)')
        stage = (it // self.epoch_iters - 1) // self.decay_epochs
        return self.C * self.gamma**(-stage) * float(self.rho_hat)

    def forward(self, select_loss: Tensor, unlabeled_loss: Tensor) -> Tuple[Tensor, Dict]:
        """Mask of the kept samples for this iteration; advances the iteration counter.

        Args:
            select_loss (Tensor): (N, ) loss of each weak view against its hard pseudo-label.
            unlabeled_loss (Tensor): (N, ) soft unlabelled loss of each sample (recorded in the
                estimation window for ``rho_hat``).

        Returns:
            tuple[Tensor, dict]: The (N, ) float mask, and ``hard`` (bool: use hard
            pseudo-labels) plus ``threshold`` (the floored threshold, absent in the warm-up).
        """
        it = int(self.iter)
        self.iter += 1
        rho = self.threshold(it)
        if rho is None:
            if it >= self.warmup_iters - self.estimate_iters:
                self.loss_sum += unlabeled_loss.detach().double().sum()
                self.loss_count += unlabeled_loss.numel()
            if it == self.warmup_iters - 1:
                total = torch.stack([self.loss_sum, self.loss_count])
                all_reduce(total)  # in place: the same rho_hat on every rank
                self.rho_hat.fill_(float(total[0] / total[1].clamp(min=1)))
            keep = select_loss.new_full(select_loss.shape, float(self.warmup_unlabeled))
            return keep, dict(hard=False)
        floored = max(rho, self.rho_min)
        mask = (select_loss < floored).to(select_loss.dtype)
        return mask, dict(hard=rho <= self.rho_min, threshold=floored)


class FixedThreshold(nn.Module):
    """FixMatch's fixed confidence threshold, the baseline of Dash (arXiv 2109.00650).

    A sample is kept when the largest softmax probability of its weak view reaches
    ``confidence`` (FixMatch, arXiv 2001.07685); the unlabelled loss uses hard pseudo-labels.
    In loss terms: kept when ``select_loss <= -log(confidence)``.

    Args:
        confidence (float): Threshold in (0, 1]. Defaults to 0.95 (FixMatch).
    """

    def __init__(self, confidence: float = 0.95) -> None:
        super().__init__()
        if not 0 < confidence <= 1:
            raise ValueError(f'"selection.confidence" must be in (0, 1], got {confidence}')
        self.confidence = confidence

    def forward(self, select_loss: Tensor, unlabeled_loss: Tensor) -> Tuple[Tensor, Dict]:
        """Mask of the samples whose weak-view confidence ``exp(-select_loss)`` is high."""
        mask = (torch.exp(-select_loss) >= self.confidence).to(select_loss.dtype)
        return mask, dict(hard=True, threshold=self.confidence)


SELECTIONS = {'dash': DashThreshold, 'fixed': FixedThreshold}
# how the unlabelled loss is averaged by default: Dash over the kept samples (official
# ``divide_no_nan(sum(l * mask), sum(mask))``), FixMatch over the whole unlabelled batch
DEFAULT_NORM = {'dash': 'kept', 'fixed': 'all'}


def masked_unlabeled_loss(logits_weak: Tensor, logits_strong: Tensor, selector: nn.Module,
                          temperature: float = 1.0, normalize: str = 'kept'):
    """Unlabelled loss of a FixMatch-style batch with the samples ``selector`` keeps.

    Pseudo-labels come from the weak view (no gradient): ``p = softmax(logits_weak / T)`` and
    its argmax ``y``. The selection loss is ``CE(logits_weak, y)`` (no temperature, as the
    official Dash code); the per-sample loss is ``CE(logits_strong, p)`` (soft) or
    ``CE(logits_strong, y)`` when the selector asks for hard labels.

    Args:
        logits_weak (Tensor): (N, K) logits of the weak views.
        logits_strong (Tensor): (N, K) logits of the strong views of the same images.
        selector (nn.Module): :class:`DashThreshold` or :class:`FixedThreshold`.
        temperature (float): Sharpening temperature of the soft pseudo-labels. Defaults to 1.
        normalize (str): ``'kept'`` (sum over kept / number kept, 0 if none) or ``'all'``
            (sum over kept / N). Defaults to ``'kept'``.

    Returns:
        tuple[Tensor, Tensor, Tensor, dict]: The scalar loss, the (N, ) mask, the (N, ) hard
        pseudo-labels and the selector's info.
    """
    with torch.no_grad():
        weak = logits_weak.detach().float()
        probs = F.softmax(weak / temperature, dim=-1)
        pseudo = probs.argmax(dim=-1)
        select_loss = F.cross_entropy(weak, pseudo, reduction='none')
    log_probs = F.log_softmax(logits_strong.float(), dim=-1)
    soft_loss = -(probs * log_probs).sum(dim=-1)
    mask, info = selector(select_loss, soft_loss.detach())
    per_sample = F.nll_loss(log_probs, pseudo, reduction='none') if info['hard'] else soft_loss
    denom = mask.sum().clamp(min=1.) if normalize == 'kept' else mask.numel()
    return (per_sample * mask).sum() / denom, mask, pseudo, info


@MODELS.register_module()
class DashClassifier(ImageClassifier):
    """Image classifier trained semi-supervised with Dash's dynamic thresholding (or FixMatch).

    "Dash: Semi-Supervised Learning with Dynamic Thresholding" (Xu et al., ICML 2021, arXiv
    2109.00650). A training batch from :class:`mmext.SemiSupervisedDataset` /
    :class:`mmext.SemiSupervisedSampler` holds labelled images and the weak and strong views of
    unlabelled images (``data_samples`` metainfo ``ssl_view``). All of them go through the
    network in one forward pass (as the official code; BN sees the whole batch). The loss is the
    labelled cross-entropy (the head's loss) plus ``lambda_u`` times the unlabelled loss on the
    strong views against pseudo-labels of the weak views, over the samples that ``selection``
    keeps: Dash's decaying loss threshold (:class:`DashThreshold`) or FixMatch's fixed
    confidence (:class:`FixedThreshold`). Logged: ``loss_x``, ``loss_u``, ``mask_ratio`` (kept
    fraction), ``threshold``, and ``pseudo_acc`` / ``kept_pseudo_acc`` (accuracy of all / kept
    pseudo-labels, from the unlabelled images' true labels when the dataset has them; for
    monitoring only; 0 when nothing is kept). A batch without unlabelled views trains as a
    plain ImageClassifier. Prediction is the ImageClassifier's.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config. Defaults to None.
        head (dict, optional): Classification head config (its ``forward`` gives the logits).
            Defaults to None.
        selection (dict): ``dict(type='dash', **DashThreshold args)`` or
            ``dict(type='fixed', confidence=0.95)``. Defaults to ``dict(type='dash')``.
        lambda_u (float): Weight of the unlabelled loss, >= 0. Defaults to 1.0.
        temperature (float): Temperature of the soft pseudo-labels, > 0. Defaults to 0.5
            (official Dash runs).
        normalize (str, optional): ``'kept'`` or ``'all'`` (see :func:`masked_unlabeled_loss`);
            None: ``'kept'`` for Dash, ``'all'`` for FixMatch. Defaults to None.
        **kwargs: Other ``ImageClassifier`` arguments (``pretrained``, ``train_cfg``,
            ``data_preprocessor``, ``init_cfg``).
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 selection: dict = dict(type='dash'),
                 lambda_u: float = 1.0,
                 temperature: float = 0.5,
                 normalize: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(backbone, neck=neck, head=head, **kwargs)
        selection = dict(selection)
        kind = selection.pop('type', 'dash')
        if kind not in SELECTIONS:
            raise ValueError(f'"selection.type" must be one of {sorted(SELECTIONS)}, got '
                             f'{kind!r}')
        if not lambda_u >= 0:
            raise ValueError(f'"lambda_u" must be >= 0, got {lambda_u}')
        if not temperature > 0:
            raise ValueError(f'"temperature" must be > 0, got {temperature}')
        normalize = DEFAULT_NORM[kind] if normalize is None else normalize
        if normalize not in ('kept', 'all'):
            raise ValueError(f'"normalize" must be "kept" or "all", got {normalize!r}')
        if not hasattr(self, 'head') or not hasattr(self.head, '_get_loss'):
            raise ValueError('DashClassifier needs a classification "head" (a ClsHead)')
        self.selector = SELECTIONS[kind](**selection)
        self.lambda_u = lambda_u
        self.temperature = temperature
        self.normalize = normalize

    @staticmethod
    def split_views(data_samples: List[DataSample]) -> Dict[str, List[int]]:
        """Batch positions of the ``labeled``, ``weak`` and ``strong`` samples.

        Raises:
            ValueError: If the weak and strong views do not pair up image by image.
        """
        views = {'labeled': [], 'weak': [], 'strong': []}
        for i, sample in enumerate(data_samples):
            views[sample.metainfo.get('ssl_view', 'labeled')].append(i)
        weak = [data_samples[i].metainfo.get('ssl_index') for i in views['weak']]
        strong = [data_samples[i].metainfo.get('ssl_index') for i in views['strong']]
        if weak != strong:
            raise ValueError(
                f'the batch holds {len(weak)} weak and {len(strong)} strong views that do not '
                'pair up: train_dataloader.batch_size must equal the SemiSupervisedSampler\'s '
                'labeled_batch_size * (1 + 2 * mu)')
        return views

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> Dict[str, Tensor]:
        views = self.split_views(data_samples)
        if not views['weak']:
            return super().loss(inputs, data_samples)
        if not views['labeled']:
            raise ValueError('a semi-supervised batch without labelled images: check the '
                             'SemiSupervisedSampler\'s labeled_batch_size')
        logits = self.head(self.extract_feat(inputs))
        pos = {k: torch.as_tensor(v, device=logits.device) for k, v in views.items()}
        labeled = [data_samples[i] for i in views['labeled']]
        losses = self.head._get_loss(logits[pos['labeled']], labeled)
        losses['loss_x'] = losses.pop('loss')
        loss_u, mask, pseudo, info = masked_unlabeled_loss(
            logits[pos['weak']], logits[pos['strong']], self.selector, self.temperature,
            self.normalize)
        losses['loss_u'] = self.lambda_u * loss_u
        losses['mask_ratio'] = mask.mean()
        if 'threshold' in info:
            losses['threshold'] = mask.new_tensor(info['threshold'])
        truth = [data_samples[i].get('gt_label') for i in views['weak']]
        if all(t is not None and t.numel() == 1 for t in truth):
            correct = (pseudo == torch.cat(truth).to(pseudo.device)).float()
            losses['pseudo_acc'] = correct.mean()
            # 0 when nothing is kept: every rank must log the same keys
            losses['kept_pseudo_acc'] = (correct * mask).sum() / mask.sum().clamp(min=1.)
        return losses
