import numpy as np
import pytest

from mmext.datasets.transforms import IncludeDifficultLabels
from mmext.registry import TRANSFORMS


def test_merges_difficult_only_classes():
    t = TRANSFORMS.build(dict(type='mmext.IncludeDifficultLabels'))
    # class 7 is seen only on difficult objects, class 3 on both kinds
    out = t(dict(gt_label=[3, 12], gt_label_difficult=[7, 3]))
    assert out['gt_label'].tolist() == [3, 7, 12]
    assert out['gt_label'].dtype == np.int64
    assert out['gt_label_difficult'].size == 0
    # an image with difficult objects only still gets its labels
    out = IncludeDifficultLabels()(dict(gt_label=[], gt_label_difficult=[5]))
    assert out['gt_label'].tolist() == [5]


def test_needs_voc_annotations():
    with pytest.raises(KeyError, match='gt_label_difficult'):
        IncludeDifficultLabels()(dict(gt_label=[1]))
