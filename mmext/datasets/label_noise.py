"""Fashion-MNIST with a saved copy of noisy training labels (for label-noise experiments)."""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmpretrain.datasets import FashionMNIST

from mmext.registry import DATASETS

__all__ = ['NoisyLabelFashionMNIST']


@DATASETS.register_module()
class NoisyLabelFashionMNIST(FashionMNIST):
    """mmpretrain's ``FashionMNIST`` whose training labels are replaced by saved noisy labels.

    Built for the instance-dependent label-noise experiments of "Tackling Instance-Dependent
    Label Noise with Dynamic Distribution Calibration" (Zhang et al., ACM MM 2022, arXiv
    2210.05126). The noisy labels are an ``.npy`` array of 60,000 int64 class indices written by
    ``tools/dataset_converters/label_noise.py`` (instance-dependent noise of Xia et al. 2020).
    Each data info keeps the original label as ``clean_label`` so the actual noise can be
    checked. The test split is loaded untouched.

    Note:
        mmpretrain 1.2.0's MNIST datasets choose the files from ``test_mode``, not ``split``:
        a val/test config must set ``test_mode=True`` to read the test files.

    Args:
        noisy_label_file (str, optional): Path of the ``.npy`` labels, relative to
            ``data_root`` unless absolute. Required for the training files (``test_mode=False``).
            Defaults to None.
        **kwargs: Arguments of mmpretrain's ``FashionMNIST`` (``data_root``, ``split``,
            ``pipeline``, ``test_mode``, ...).
    """

    def __init__(self, noisy_label_file: Optional[str] = None, **kwargs) -> None:
        test_mode = kwargs.get('test_mode', False)
        if not test_mode:
            if noisy_label_file is None:
                raise ValueError('"noisy_label_file" is required for the training split; '
                                 'create it with tools/dataset_converters/label_noise.py')
            if not osp.isabs(noisy_label_file):
                noisy_label_file = osp.join(kwargs.get('data_root', ''), noisy_label_file)
            if not osp.isfile(noisy_label_file):
                raise FileNotFoundError(
                    f'noisy_label_file {noisy_label_file} not found; create it with '
                    f'python tools/dataset_converters/label_noise.py --rate R')
        self.noisy_label_file = noisy_label_file
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self.test_mode:
            return data_list
        noisy = np.load(self.noisy_label_file)
        if noisy.shape != (len(data_list), ):
            raise ValueError(f'{self.noisy_label_file} holds labels of shape {noisy.shape}, '
                             f'expected ({len(data_list)}, ) for the training split')
        num_classes = len(self.METAINFO['classes'])
        if noisy.min() < 0 or noisy.max() >= num_classes:
            raise ValueError(f'{self.noisy_label_file} has labels outside [0, {num_classes})')
        for info, label in zip(data_list, noisy):
            info['clean_label'] = info['gt_label']
            info['gt_label'] = np.array(label, dtype=np.int64)
        return data_list
