"""CoKe: unsupervised representation learning by online constrained k-means (arXiv 2105.11527)."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from ..layers.selfsup_utils import as_view_list, instance_indices

__all__ = ['CoKe']


@MODELS.register_module()
class CoKe(BaseSelfSupervisor):
    """CoKe (online Constrained K-means) self-supervised algorithm.

    From "Unsupervised Visual Representation Learning by Online Constrained K-Means" (Qian et
    al., CVPR 2022, arXiv 2105.11527; official code idstcv/CoKe). Every image is assigned online,
    in one pass per epoch and without a feature memory bank, to one cluster of each of several
    k-means clusterings whose cluster sizes are bounded from below through dual variables; the
    network learns to classify each view into the clusters of the previous epoch
    (:class:`mmext.CoKeHead`). The instance's dataset index (``sample_idx``) keys its stored
    cluster labels; no class label is read.

    The train pipeline gives two large views (``MultiView``, official: two 224 crops with the
    BYOL-style asymmetric augmentations) and optionally small crops (official multi-crop: six
    96 crops). Each view goes through backbone and neck on its own, as in the official code, so
    batch-norm statistics are per view. Add :class:`mmext.CoKeHook` to the config's
    ``custom_hooks`` so that epochs are closed.

    Args (those of mmpretrain's ``BaseSelfSupervisor``):
        backbone (dict): Backbone config.
        neck (dict): Projection MLP (official: 2048-2048-2048-128 with batch norm after every
            linear layer, mmpretrain ``NonLinearNeck`` with ``num_layers=3`` and
            ``with_last_bn=True``).
        head (dict): :class:`mmext.CoKeHead` config.
        pretrained (str, optional): Checkpoint to load. Defaults to None.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def project(self, view: torch.Tensor) -> torch.Tensor:
        """Projection (neck output) of one batch of views, ``(B, feat_dim)``."""
        return self.neck(self.backbone(view))[0]

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Cluster the batch online and return the CoKe loss.

        Args:
            inputs (list[Tensor]): The views, two large ones first, then the small crops.
            data_samples (list[DataSample]): The samples, with ``sample_idx``.

        Returns:
            dict[str, Tensor]: The losses of :meth:`CoKeHead.loss`.
        """
        views = as_view_list(inputs, 2, 'CoKe')
        ids = instance_indices(data_samples)
        proj = [self.project(v) for v in views]
        return self.head.loss(proj[:2], proj[2:], ids)
