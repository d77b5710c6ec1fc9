"""A dataset wrapper that maps class labels (fine -> coarse) or keeps a subset of the classes."""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np

from mmext.registry import DATASETS

__all__ = ['RelabeledDataset', 'read_label_map']


def read_label_map(path: str) -> List[int]:
    """New labels from a text file: one line per original class, new label in the last field.

    Lines may be a bare integer or comma-separated with the label last (e.g. the official CoIns
    ImageNet mapping ``n01440764,n00015388,animal,0``); blank lines are skipped.

    Args:
        path (str): The file.

    Returns:
        list[int]: The new label of each original class, in file order.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'"label_map_file" {path} not found')
    labels = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            field = line.strip().split(',')[-1].strip()
            try:
                labels.append(int(field))
            except ValueError:
                raise ValueError(f'"label_map_file" {path}:{lineno}: the last field must be an '
                                 f'integer label, got {field!r}') from None
    return labels


@DATASETS.register_module()
class RelabeledDataset:
    """Wrap a classification dataset to train or evaluate on other labels than its own.

    Three ways to give the labels, one of them per wrapper:

    - ``label_map``: one new label per original class (``-1`` drops that class). Fine-to-coarse
      relabelling for "Weakly Supervised Representation Learning with Coarse Labels" (CoIns,
      Xu et al., ICCV 2021, arXiv 2005.09681), e.g. Fashion-MNIST's 10 classes to 4 coarse ones.
    - ``label_map_file``: the same from a text file with one line per original class, in class
      order, whose last comma-separated field is the new label (the layout of the official
      ImageNet 1000 -> 11 mapping, idstcv/CoIns ``data/class_mapping.txt``).
    - ``keep_classes``: the original classes to keep, relabelled ``0 .. n-1`` in the given
      order; the other samples are dropped. Class-subset pre-training and held-out-class
      evaluation for LOOK ("Rethinking Supervised Pre-training for Better Downstream
      Transferring", Feng et al., ICLR 2022, arXiv 2110.06014).

    The inner dataset keeps its own pipeline (ending in mmpretrain's ``PackInputs``); the
    wrapper replaces ``gt_label`` of the packed data sample after the pipeline, and sets
    ``sample_idx`` to the index in the wrapper (``0 .. len - 1``), so per-sample memories (e.g.
    :class:`mmext.LOOKHead`'s memory bank) can be indexed densely. The original label is kept in
    the sample's metainfo as ``ori_label``.

    Args:
        dataset (dict | BaseDataset): The dataset to wrap (config or instance), with
            ``metainfo['classes']`` and ``get_gt_labels()`` as mmpretrain datasets have.
        label_map (Sequence[int], optional): New label of each original class, ``-1`` to drop
            it; the new labels must be exactly ``0 .. C-1``. Defaults to None.
        label_map_file (str, optional): Text file holding ``label_map`` (see above).
            Defaults to None.
        keep_classes (Sequence[int], optional): Original classes to keep, in the order of their
            new labels. Defaults to None. Exactly one of ``label_map``, ``label_map_file``
            and ``keep_classes`` must be given.
        classes (Sequence[str], optional): Names of the new classes. Defaults to None: the
            kept classes' names (``keep_classes``), or the names of each new class's members
            joined by ``'/'`` (``label_map``).
        lazy_init (bool): Load the inner dataset on first use instead of now. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 label_map: Optional[Sequence[int]] = None,
                 label_map_file: Optional[str] = None,
                 keep_classes: Optional[Sequence[int]] = None,
                 classes: Optional[Sequence[str]] = None,
                 lazy_init: bool = False) -> None:
        given = [name for name, value in (('label_map', label_map), ('label_map_file',
                  label_map_file), ('keep_classes', keep_classes)) if value is not None]
        if len(given) != 1:
            raise ValueError('RelabeledDataset needs exactly one of "label_map", '
                             f'"label_map_file" and "keep_classes", got {given or "none"}')
        if label_map_file is not None:
            label_map = read_label_map(label_map_file)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        ori_classes = tuple(self.dataset.metainfo.get('classes') or ())
        if not ori_classes:
            raise ValueError('RelabeledDataset: the wrapped dataset has no metainfo["classes"]')
        num_ori = len(ori_classes)
        if keep_classes is not None:
            keep_classes = [int(c) for c in keep_classes]
            bad = [c for c in keep_classes if not 0 <= c < num_ori]
            if not keep_classes or bad or len(set(keep_classes)) != len(keep_classes):
                raise ValueError(f'"keep_classes" must be distinct class indices in [0, {num_ori})'
                                 f', got {keep_classes}')
            label_map = [-1] * num_ori
            for new, old in enumerate(keep_classes):
                label_map[old] = new
        else:
            label_map = [int(c) for c in label_map]
            if len(label_map) != num_ori:
                raise ValueError(f'"label_map" must give one label per class of the wrapped '
                                 f'dataset ({num_ori}), got {len(label_map)} entries')
            used = sorted(set(c for c in label_map if c != -1))
            if min(label_map) < -1 or not used or used != list(range(len(used))):
                raise ValueError(f'"label_map" values must be -1 (drop) or the new labels '
                                 f'0 .. C-1 with none missing, got {label_map}')
        self.label_map = np.array(label_map, dtype=np.int64)
        num_new = int(self.label_map.max()) + 1
        if classes is None:
            classes = [
                '/'.join(n for n, c in zip(ori_classes, label_map) if c == new)
                for new in range(num_new)
            ]
        elif len(classes) != num_new:
            raise ValueError(f'"classes" must name the {num_new} new classes, '
                             f'got {len(classes)} names')
        self._metainfo = dict(copy.deepcopy(self.dataset.metainfo), classes=tuple(classes))
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The inner dataset's metainfo with the new ``classes``."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Load the inner dataset and select / relabel its samples."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        ori_labels = np.asarray(self.dataset.get_gt_labels(), dtype=np.int64)
        new_labels = self.label_map[ori_labels]
        # (N_kept, ) positions in the inner dataset, in their original order
        self.indices = np.flatnonzero(new_labels >= 0)
        self.gt_labels = new_labels[self.indices]
        self.ori_labels = ori_labels[self.indices]
        self._fully_initialized = True

    def _check_init(self) -> None:
        if not self._fully_initialized:
            self.full_init()

    def __len__(self) -> int:
        self._check_init()
        return len(self.indices)

    def get_gt_labels(self) -> np.ndarray:
        """New labels of all kept samples, ``(N, )``."""
        self._check_init()
        return self.gt_labels.copy()

    def get_cat_ids(self, idx: int) -> List[int]:
        """New label of sample ``idx`` as a list (for class-aware samplers)."""
        self._check_init()
        return [int(self.gt_labels[idx])]

    def get_data_info(self, idx: int) -> dict:
        """The inner data info of sample ``idx`` with the new label and index."""
        self._check_init()
        info = self.dataset.get_data_info(int(self.indices[idx]))
        info['ori_label'] = info['gt_label']
        info['gt_label'] = np.array(self.gt_labels[idx], dtype=np.int64)
        info['sample_idx'] = idx
        return info

    def __getitem__(self, idx: int) -> dict:
        self._check_init()
        results = self.dataset[int(self.indices[idx])]
        sample = results.get('data_samples') if isinstance(results, dict) else None
        if sample is None or not hasattr(sample, 'set_gt_label'):
            raise TypeError('RelabeledDataset: the wrapped dataset\'s pipeline must end with '
                            'mmpretrain\'s PackInputs (a "data_samples" DataSample)')
        sample.set_gt_label(int(self.gt_labels[idx]))
        sample.set_metainfo(dict(sample_idx=idx, ori_label=int(self.ori_labels[idx])))
        return results
