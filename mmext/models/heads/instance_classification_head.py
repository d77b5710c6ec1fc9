"""Head of the one-million-way instance classifier (Liu et al., AAAI 2021, arXiv 2102.04848)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmext.registry import MODELS
from ..layers.head_utils import pooled_feature
from ..layers.sharded_linear import ShardedLinear

__all__ = ['InstanceClassificationHead']


@MODELS.register_module()
class InstanceClassificationHead(BaseModule):
    """Parametric classifier with one class per training image, sharded over the ranks.

    From "Train a One-Million-Way Instance Classifier for Unsupervised Visual Representation
    Learning" (Liu et al., AAAI 2021, arXiv 2102.04848). The class weights are a
    :class:`mmext.ShardedLinear` (each rank holds ``1 / world_size`` of the instances: the
    model-parallel half of the paper's hybrid parallelism); the loss
    (:class:`mmext.InstanceClassificationLoss`) is the exact softmax cross-entropy over all
    instances with the labels smoothed onto the hardest classes. With ``temperature`` set, the
    features and the class weights are L2-normalised and the logits are cosines divided by it
    (a cosine classifier); None gives a plain linear classifier.

    Args:
        num_instances (int): Number of training images (classes).
        in_channels (int): Width of the (pooled, projected) feature.
        temperature (float, optional): Temperature of the cosine classifier; None: plain
            linear logits. Defaults to 0.2 (ours; the paper's value was not checked).
        loss (dict): Loss config. Defaults to ``dict(type='mmext.InstanceClassificationLoss')``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_instances: int,
                 in_channels: int,
                 temperature: Optional[float] = 0.2,
                 loss: dict = dict(type='mmext.InstanceClassificationLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_instances < 2:
            raise ValueError(f'"num_instances" must be >= 2, got {num_instances}')
        if temperature is not None and temperature <= 0:
            raise ValueError(f'"temperature" must be > 0 or None, got {temperature}')
        self.num_instances = num_instances
        self.in_channels = in_channels
        self.temperature = temperature
        self.fc = ShardedLinear(num_instances, in_channels)
        self.loss_module = MODELS.build(loss)

    def _inputs(self, feats: Sequence[torch.Tensor]):
        x = pooled_feature(feats, self.in_channels, 'InstanceClassificationHead').float()
        w = self.fc.weight.float()
        if self.temperature is not None:
            x = F.normalize(x, dim=1) / self.temperature
            w = F.normalize(w, dim=1)
        return x, w

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits of this rank's classes, ``(B, C_r)``."""
        x, w = self._inputs(feats)
        return x @ w.t()

    def loss(self, feats: Sequence[torch.Tensor],
             instance_ids: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Instance-classification loss of the global batch (the same value on every rank).

        Args:
            feats (Sequence[Tensor]): Neck outputs; the last is ``(B, in_channels)``.
            instance_ids (Tensor): Dataset index (= class) of each image, ``(B, )``.
        """
        if instance_ids.min() < 0 or instance_ids.max() >= self.num_instances:
            raise ValueError(f'sample_idx must lie in [0, num_instances={self.num_instances}), '
                             f'got values in [{int(instance_ids.min())}, '
                             f'{int(instance_ids.max())}]: set the head\'s "num_instances" to '
                             f'the size of the training set')
        x, w = self._inputs(feats)
        loss = self.loss_module(x, w, instance_ids.to(x.device), self.fc.offset,
                                self.num_instances)
        return dict(loss=loss)
