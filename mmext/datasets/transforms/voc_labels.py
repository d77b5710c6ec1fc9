"""Multi-label targets that count every annotated object of a VOC image, difficult ones too."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS

__all__ = ['IncludeDifficultLabels']


@TRANSFORMS.register_module()
class IncludeDifficultLabels(BaseTransform):
    """Add the classes seen only on "difficult" objects to an image's labels.

    mmpretrain's ``VOC`` dataset puts a class that an image shows only through objects marked
    difficult into ``gt_label_difficult`` instead of ``gt_label``. Hashing papers evaluated on
    VOC-2007 such as HyP^2 ("HyP^2 Loss: Beyond Hypersphere Metric Space for Multi-label Image
    Retrieval", arXiv 2208.06866) label an image with every object class it contains: their
    training targets and their retrieval relevance both count difficult objects. This transform
    merges the two lists so that both the loss and the metric see the official labels.

    Required keys: ``gt_label``, ``gt_label_difficult``. Modified keys: ``gt_label`` (sorted
    class indices, int64), ``gt_label_difficult`` (emptied).
    """

    def transform(self, results: dict) -> dict:
        if 'gt_label_difficult' not in results:
            raise KeyError('IncludeDifficultLabels needs "gt_label_difficult" (mmpretrain VOC '
                           'dataset annotations)')
        labels = np.asarray(results['gt_label'], dtype=np.int64).reshape(-1)
        difficult = np.asarray(results['gt_label_difficult'], dtype=np.int64).reshape(-1)
        results['gt_label'] = np.union1d(labels, difficult)
        results['gt_label_difficult'] = np.zeros(0, dtype=np.int64)
        return results
