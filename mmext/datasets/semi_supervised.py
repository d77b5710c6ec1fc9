"""Labelled / unlabelled batches for semi-supervised classification (FixMatch, Dash).

Built for "Dash: Semi-Supervised Learning with Dynamic Thresholding" (Xu et al., ICML 2021,
arXiv 2109.00650; official code idstcv/Dash on the google-research/fixmatch pipeline): every
training iteration sees ``B`` labelled images and ``mu * B`` unlabelled images, each of the
latter in a weak and a strong augmentation. The dataset wrapper turns one labelled training set
into a class-balanced labelled subset and an unlabelled pool; the sampler lays the indices out so
that the standard dataloader (default collate, ``batch_size = B * (1 + 2 mu)``) yields one
such iteration per batch. Works with the standard mmengine runner (iteration-based loop).
"""
import itertools
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import Compose
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Dataset, Sampler

from mmext.registry import DATA_SAMPLERS, DATASETS

__all__ = ['SemiSupervisedDataset', 'SemiSupervisedSampler', 'class_balanced_split']

# ``data_samples`` metainfo key naming the role of a sample: one of VIEWS
VIEW_KEY = 'ssl_view'
# ``data_samples`` metainfo key: position of the image in the wrapped dataset (pairs the views)
INDEX_KEY = 'ssl_index'
VIEWS = ('labeled', 'weak', 'strong')


def class_balanced_split(labels: Sequence[int], num_labels_per_class: int, seed: int = 0,
                         num_unlabeled: Optional[int] = None):
    """Pick ``num_labels_per_class`` labelled images of every class; the rest is unlabelled.

    Args:
        labels (Sequence[int]): The class of every image of the training set.
        num_labels_per_class (int): Labelled images per class.
        seed (int): Seed of the draw (the same seed gives the same split). Defaults to 0.
        num_unlabeled (int, optional): Keep only this many unlabelled images, drawn uniformly
            from the rest (a smaller pool for short CPU runs). Defaults to None (all the rest).

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted labelled and unlabelled indices (disjoint).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not isinstance(num_labels_per_class, (int, np.integer)) or num_labels_per_class < 1:
        raise ValueError(f'"num_labels_per_class" must be a positive int, got '
                         f'{num_labels_per_class!r}')
    rng = np.random.default_rng(seed)
    labeled = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        if num_labels_per_class > idx.size:
            raise ValueError(f'"num_labels_per_class" is {num_labels_per_class} but class {cls} '
                             f'has only {idx.size} training images')
        labeled.append(rng.permutation(idx)[:num_labels_per_class])
    labeled = np.sort(np.concatenate(labeled))
    unlabeled = np.setdiff1d(np.arange(labels.size), labeled)
    if num_unlabeled is not None:
        if not 1 <= num_unlabeled <= unlabeled.size:
            raise ValueError(f'"num_unlabeled" must be in [1, {unlabeled.size}] (the images left '
                             f'after the labelled ones), got {num_unlabeled}')
        unlabeled = np.sort(rng.choice(unlabeled, num_unlabeled, replace=False))
    return labeled, unlabeled


@DATASETS.register_module()
class SemiSupervisedDataset(Dataset):
    """A labelled subset and an unlabelled pool (weak and strong views) of one training set.

    For FixMatch-style semi-supervised training as in Dash (arXiv 2109.00650): the wrapped
    dataset's labelled images are split by :func:`class_balanced_split` (``num_labels_per_class``
    per class, seeded by ``split_seed``) into a labelled subset and a disjoint unlabelled pool.
    Indices ``[0, L)`` are the labelled images through ``labeled_pipeline``; ``[L, L + U)`` the
    unlabelled images through ``weak_pipeline``; ``[L + U, L + 2U)`` the same unlabelled images
    through ``strong_pipeline`` (index ``L + U + j`` is the strong view of ``L + j``). Every
    pipeline must end with ``PackInputs``; the wrapper tags each packed ``data_samples`` with
    ``ssl_view`` (``'labeled'``, ``'weak'`` or ``'strong'``) and ``ssl_index`` (the image's
    index in the wrapped dataset), which :class:`mmext.DashClassifier` reads. Unlabelled samples
    keep the wrapped dataset's label only so that the classifier can log the accuracy of its
    pseudo-labels; training never reads it. Use with :class:`SemiSupervisedSampler`.

    Args:
        dataset (dict | Dataset): The labelled training set (its own ``pipeline`` should be
            empty: the three pipelines below are applied to its data infos).
        num_labels_per_class (int): Labelled images per class (e.g. 4 / 25 / 100 for 40 / 250 /
            1000 labels on a 10-class set).
        labeled_pipeline (list[dict]): Transforms of the labelled images (the weak
            augmentation in FixMatch / Dash).
        weak_pipeline (list[dict]): Weak augmentation of the unlabelled images.
        strong_pipeline (list[dict]): Strong augmentation of the unlabelled images.
        split_seed (int): Seed of the labelled / unlabelled split. Defaults to 0.
        num_unlabeled (int, optional): Size of the unlabelled pool, drawn from the images that
            are not labelled (None: all of them). Defaults to None.
    """

    def __init__(self,
                 dataset: Union[Dict, Dataset],
                 num_labels_per_class: int,
                 labeled_pipeline: List[Dict],
                 weak_pipeline: List[Dict],
                 strong_pipeline: List[Dict],
                 split_seed: int = 0,
                 num_unlabeled: Optional[int] = None) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        labels = self._labels(self.dataset)
        self.labeled_indices, self.unlabeled_indices = class_balanced_split(
            labels, num_labels_per_class, split_seed, num_unlabeled)
        self.num_labels_per_class = num_labels_per_class
        self.split_seed = split_seed
        self.pipelines = {
            'labeled': Compose(labeled_pipeline),
            'weak': Compose(weak_pipeline),
            'strong': Compose(strong_pipeline),
        }

    @staticmethod
    def _labels(dataset) -> np.ndarray:
        if hasattr(dataset, 'get_gt_labels'):
            return np.asarray(dataset.get_gt_labels())
        if hasattr(dataset, 'get_cat_ids'):
            return np.asarray([dataset.get_cat_ids(i)[0] for i in range(len(dataset))])
        raise TypeError(f'{type(dataset).__name__} gives no labels (needs get_gt_labels() or '
                        'get_cat_ids())')

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (classes, ...)."""
        return getattr(self.dataset, 'metainfo', {})

    @property
    def num_labeled(self) -> int:
        """Number L of labelled images."""
        return int(self.labeled_indices.size)

    @property
    def num_unlabeled(self) -> int:
        """Number U of unlabelled images."""
        return int(self.unlabeled_indices.size)

    def __len__(self) -> int:
        return self.num_labeled + 2 * self.num_unlabeled

    def locate(self, idx: int):
        """``(view, index in the wrapped dataset)`` of wrapper index ``idx``."""
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range [0, {len(self)})')
        L, U = self.num_labeled, self.num_unlabeled
        if idx < L:
            return 'labeled', int(self.labeled_indices[idx])
        view = 'weak' if idx < L + U else 'strong'
        return view, int(self.unlabeled_indices[(idx - L) % U])

    def __getitem__(self, idx: int) -> dict:
        view, src = self.locate(idx)
        results = self.pipelines[view](self.dataset.get_data_info(src))
        sample = results.get('data_samples') if isinstance(results, dict) else None
        if sample is None or not hasattr(sample, 'set_metainfo'):
            raise TypeError(f'the {view} pipeline of SemiSupervisedDataset must end with '
                            f'PackInputs (got {type(results).__name__} without data_samples)')
        sample.set_metainfo({VIEW_KEY: view, INDEX_KEY: src})
        return results


@DATA_SAMPLERS.register_module()
class SemiSupervisedSampler(Sampler):
    """Endless stream of :class:`SemiSupervisedDataset` indices laid out as FixMatch / Dash
    iterations.

    Each group of ``labeled_batch_size * (1 + 2 mu)`` consecutive indices is one iteration:
    ``B`` labelled indices, then ``mu B`` unlabelled weak views, then the strong views of the
    same images in the same order. Set the dataloader's ``batch_size`` to that group size.
    Labelled images come from an endless sequence of seeded permutations of the labelled subset
    (independent of ``mu``, so a supervised-only run with ``mu=0`` sees the same labelled
    batches); unlabelled images from an endless sequence of seeded permutations of the pool
    (``U // (mu B)`` iterations each, the remainder dropped), as the repeated, shuffled streams
    of the official code. Iteration ``g`` depends only on ``seed`` and ``g``, so a resumed
    iteration-based run (mmengine skips the trained iterations) replays the same batches. The
    stream is endless, like mmengine's ``InfiniteSampler``: use an iteration-based loop;
    ``len()`` is one pass over the unlabelled pool. With several processes each rank takes
    every ``world_size``-th iteration.

    Args:
        dataset (SemiSupervisedDataset): The wrapped training set.
        labeled_batch_size (int): Labelled images per iteration per process (``B``).
        mu (int): Unlabelled images per labelled image (0: labelled batches only).
            Defaults to 7.
        seed (int, optional): Seed of the permutations; None draws one shared by all ranks.
            Defaults to None (the runner passes ``randomness.seed``).
    """

    def __init__(self,
                 dataset: SemiSupervisedDataset,
                 labeled_batch_size: int,
                 mu: int = 7,
                 seed: Optional[int] = None) -> None:
        if not isinstance(dataset, SemiSupervisedDataset):
            raise TypeError('SemiSupervisedSampler needs a SemiSupervisedDataset, got '
                            f'{type(dataset).__name__}')
        if not isinstance(labeled_batch_size, int) or labeled_batch_size < 1:
            raise ValueError(f'"labeled_batch_size" must be a positive int, got '
                             f'{labeled_batch_size!r}')
        if not isinstance(mu, int) or mu < 0:
            raise ValueError(f'"mu" must be an int >= 0, got {mu!r}')
        self.dataset = dataset
        self.labeled_batch_size = labeled_batch_size
        self.mu = mu
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        U = dataset.num_unlabeled
        self.iters_per_round = U // (mu * labeled_batch_size) if mu else \
            max(1, dataset.num_labeled // labeled_batch_size)
        if self.iters_per_round < 1:
            raise ValueError(f'the unlabelled pool ({U} images) is smaller than one iteration '
                             f'of {mu * labeled_batch_size} unlabelled images: lower "mu" or '
                             f'"labeled_batch_size", or raise "num_unlabeled"')
        self._perms: Dict[tuple, np.ndarray] = {}

    @property
    def batch_size(self) -> int:
        """Indices per iteration: the dataloader ``batch_size`` to use."""
        return self.labeled_batch_size * (1 + 2 * self.mu)

    def _perm(self, stream: int, r: int, n: int) -> np.ndarray:
        """Permutation ``r`` of ``range(n)`` of a stream (1: labelled, 2: unlabelled)."""
        key = (stream, r)
        if key not in self._perms:
            if len(self._perms) > 8:  # only the current rounds are needed
                self._perms.clear()
            self._perms[key] = np.random.default_rng([self.seed, stream, r]).permutation(n)
        return self._perms[key]

    def iteration(self, g: int) -> List[int]:
        """The dataset indices of global iteration ``g``."""
        B, mu = self.labeled_batch_size, self.mu
        L, U = self.dataset.num_labeled, self.dataset.num_unlabeled
        labeled = [int(self._perm(1, p // L, L)[p % L]) for p in range(g * B, (g + 1) * B)]
        if not mu:
            return labeled
        r, pos = divmod(g, self.iters_per_round)
        unlabeled = self._perm(2, r, U)[pos * mu * B:(pos + 1) * mu * B]
        return labeled + (L + unlabeled).tolist() + (L + U + unlabeled).tolist()

    def __iter__(self) -> Iterator[int]:
        for g in itertools.count(self.rank, self.world_size):
            yield from self.iteration(g)

    def __len__(self) -> int:
        return self.iters_per_round * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """No effect: the stream is endless and depends on the iteration only."""
