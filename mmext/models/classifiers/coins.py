"""CoIns: MoCo v2 with coarse-class proxies (Xu et al., ICCV 2021, arXiv 2005.09681)."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models import MoCo
from mmpretrain.structures import DataSample

from mmext.registry import MODELS

__all__ = ['CoIns']


@MODELS.register_module()
class CoIns(MoCo):
    """Instance discrimination plus coarse-class classification on the same embedding.

    From "Weakly Supervised Representation Learning with Coarse Labels" (Xu, Qian, Li, Jin, Hu;
    ICCV 2021, arXiv 2005.09681). When only coarse labels exist, a classifier trained on them
    ignores the fine-grained patterns inside each coarse class; instance discrimination keeps
    them. CoIns adds to MoCo v2 (mmpretrain's ``MoCo``: momentum key encoder, queue, InfoNCE
    with temperature ``T``) a coarse-class loss on the same normalised query embedding ``q``:
    ``L = L_MoCo + w * CE(q^T W_c / T_c, coarse label)`` with unit-norm class proxies ``W_c``.
    As in the official code (idstcv/CoIns, ``moco/builder_coins.py`` and ``coins_train.py``):
    ``w = 0.5``, ``T_c = T = 0.2``, 128-d embedding after the MLP neck, proxies initialised
    Kaiming-uniform and normalised at every step, coarse labels from the data (here
    :class:`mmext.RelabeledDataset` maps fine labels to coarse ones).

    The proxies and their loss are a :class:`mmext.SoftTripleHead` with one center per class,
    no projection, no margin and scale ``1 / T_c``, which is exactly this normalised-softmax
    cross-entropy.

    Args:
        num_coarse_classes (int): Number of coarse classes (11 for the official ImageNet
            mapping).
        coarse_loss_weight (float): Weight ``w`` of the coarse loss. Defaults to 0.5.
        coarse_temperature (float, optional): Temperature ``T_c``; None uses the contrastive
            head's temperature (official). Defaults to None.
        **kwargs: Arguments of mmpretrain's ``MoCo`` (``backbone``, ``neck``, ``head``,
            ``queue_len``, ``feat_dim``, ``momentum``, ``data_preprocessor``, ...).
    """

    def __init__(self,
                 num_coarse_classes: int,
                 coarse_loss_weight: float = 0.5,
                 coarse_temperature: Optional[float] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if num_coarse_classes < 2:
            raise ValueError(f'"num_coarse_classes" must be >= 2, got {num_coarse_classes}')
        if coarse_loss_weight < 0:
            raise ValueError(f'"coarse_loss_weight" must be >= 0, got {coarse_loss_weight}')
        if coarse_temperature is None:
            coarse_temperature = self.head.temperature
        if coarse_temperature <= 0:
            raise ValueError(f'"coarse_temperature" must be > 0, got {coarse_temperature}')
        feat_dim = self.queue.size(0)
        self.coarse_head = MODELS.build(
            dict(
                type='mmext.SoftTripleHead',
                num_classes=num_coarse_classes,
                in_channels=feat_dim,
                embed_dims=None,
                num_centers=1,
                loss=dict(
                    type='mmext.SoftTripleLoss',
                    la=1. / coarse_temperature,
                    tau=0.,
                    margin=0.,
                    loss_weight=coarse_loss_weight)))

    def extract_feat(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                     **kwargs) -> Tuple[torch.Tensor]:
        """Backbone features of a batch ``(B, C, H, W)``, of the first of a list of views, or
        of a list of single images ``(C, H, W)`` (a pseudo-collated evaluation batch)."""
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(inputs) if inputs[0].dim() == 3 else inputs[0]
        return self.backbone(inputs)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """MoCo's InfoNCE loss (``loss_ins``) plus the coarse loss (``loss_coarse``).

        Args:
            inputs (list[Tensor]): Two views of the batch, each ``(B, C, H, W)``.
            data_samples (list[DataSample]): Samples with the coarse ``gt_label``.
        """
        # MoCo.loss runs self.neck once, on the query view (the key encoder is a deep copy):
        # catch its output instead of repeating MoCo's code
        queries = []
        handle = self.neck.register_forward_hook(lambda m, i, out: queries.append(out[0]))
        try:
            losses = super().loss(inputs, data_samples, **kwargs)
        finally:
            handle.remove()
        if len(queries) != 1:
            raise RuntimeError(f'CoIns expected one query pass through the neck, saw '
                               f'{len(queries)}')
        q = F.normalize(queries[0], dim=1)  # (B, feat_dim), as MoCo's query
        coarse = self.coarse_head.loss((q, ), data_samples)['loss']
        return dict(loss_ins=losses['loss'], loss_coarse=coarse)
