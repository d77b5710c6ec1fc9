"""One-million-way instance classifier (Liu et al., AAAI 2021, arXiv 2102.04848)."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from ..layers.selfsup_utils import as_view_list, instance_indices
from ..layers.sharded_linear import ddp_ignore_sharded

__all__ = ['InstanceClassifier']


@MODELS.register_module()
class InstanceClassifier(BaseSelfSupervisor):
    """Unsupervised pre-training as a plain classifier with one class per training image.

    From "Train a One-Million-Way Instance Classifier for Unsupervised Visual Representation
    Learning" (Liu et al., AAAI 2021, arXiv 2102.04848): a supervised classification model
    whose labels are instance IDs (the image's dataset index, ``sample_idx``; no class label is
    read). Backbone and neck (pooling + MLP) are data-parallel; the classifier
    (:class:`mmext.InstanceClassificationHead`) is split over the ranks, and its parameters are
    excluded from DistributedDataParallel's synchronisation when the model is built. No
    official code was found; the implementation follows the paper.

    Not implemented: the paper's raw-feature initialisation of the class weights (the
    features of the untrained network); the classifier starts from a random normal.

    Args (those of mmpretrain's ``BaseSelfSupervisor``):
        backbone (dict): Backbone config.
        neck (dict): Neck config (pooling and projection MLP).
        head (dict): :class:`mmext.InstanceClassificationHead` config.
        pretrained (str, optional): Checkpoint to load. Defaults to None.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        ddp_ignore_sharded(self)

    def loss(self, inputs, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Classify each image (one view) into its own instance class.

        Args:
            inputs (Tensor | list[Tensor]): One view per image (a one-view ``MultiView`` list
                or a tensor).
            data_samples (list[DataSample]): The samples, with ``sample_idx``.

        Returns:
            dict[str, Tensor]: ``loss``.
        """
        view = as_view_list(inputs, 1, 'InstanceClassifier')[0]
        feats = self.neck(self.backbone(view))
        return self.head.loss(feats, instance_indices(data_samples))
