"""Deep-hashing head: K-bit codes, real-valued in training and binary at test."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from ..layers.head_utils import fill_loss_cfg, pooled_feature, prepare_data_samples

__all__ = ['HashingHead']


@MODELS.register_module()
class HashingHead(BaseModule):
    """Hashing head producing ``code_length``-bit codes for Hamming-ranking retrieval.

    Used for HyP^2 ("HyP^2 Loss: Beyond Hypersphere Metric Space for Multi-label Image
    Retrieval", Xu et al., ACM MM 2022, arXiv 2208.06866), whose networks end in a linear hash
    layer on the pooled backbone feature. In training the loss (default
    :class:`mmext.HyP2Loss`) receives the raw output of the hash layer, as in the official code
    (JerryXu0129/HyP2-Loss; its loss is cosine-based, so the scale of the codes does not change
    its value); at test the codes are ``sign`` of the same output, stored as ``hash_code``
    (``+1 / -1``, zero mapped to ``+1``) for :class:`mmext.HashingMAP`.

    Args:
        num_classes (int): Number of classes of the hashing loss.
        in_channels (int): Channels of the pooled backbone feature.
        code_length (int): Number of bits ``K``. Defaults to 48 (the official default).
        hidden_dims (int, optional): Width of an optional ``Linear-ReLU`` layer before the hash
            layer (AlexNet-style heads). Defaults to None (a single linear hash layer).
        with_hash_layer (bool): Whether the head owns the hash layer. ``False`` takes the
            backbone output as the code (e.g. mmpretrain's ``InceptionV3`` with
            ``num_classes=code_length``, whose last fc is the hash layer as in the official
            code); ``in_channels`` must then equal ``code_length``. Defaults to True.
        loss (dict): Loss config; ``num_classes`` / ``code_length`` are filled in from the head
            and must agree if given. Defaults to ``dict(type='mmext.HyP2Loss')``.
        tanh_relax (bool): Squash the codes with ``tanh`` before the loss (the usual relaxation
            of hashing heads). Not in the official HyP^2 code: the loss value is unchanged up
            to the squashing, but its gradient is scaled per bit by ``1 - tanh^2``, which turns
            its direction more the larger the outputs grow. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 code_length: int = 48,
                 hidden_dims: Optional[int] = None,
                 with_hash_layer: bool = True,
                 loss: dict = dict(type='mmext.HyP2Loss'),
                 tanh_relax: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if code_length < 2:
            raise ValueError(f'"code_length" must be >= 2, got {code_length}')
        if in_channels < 1:
            raise ValueError(f'"in_channels" must be >= 1, got {in_channels}')
        loss = fill_loss_cfg(loss, num_classes=num_classes, code_length=code_length)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.code_length = code_length
        self.tanh_relax = tanh_relax
        self.loss_module = MODELS.build(loss)
        layers: List[nn.Module] = []
        if not with_hash_layer:
            if in_channels != code_length or hidden_dims is not None:
                raise ValueError(f'with_hash_layer=False takes the backbone output as the code: '
                                 f'"in_channels" ({in_channels}) must equal "code_length" '
                                 f'({code_length}) and "hidden_dims" must be None')
            layers.append(nn.Identity())
        elif hidden_dims is not None:
            layers += [nn.Linear(in_channels, hidden_dims), nn.ReLU(inplace=True)]
            in_channels = hidden_dims
        if with_hash_layer:
            layers.append(nn.Linear(in_channels, code_length))
        self.hash_layer = nn.Sequential(*layers)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Real-valued code before relaxation / binarisation, ``(B, code_length)``."""
        return self.hash_layer(pooled_feature(feats, self.in_channels, 'HashingHead'))

    def loss(self, feats: Sequence[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Hashing loss on the real-valued codes (``tanh`` of them with ``tanh_relax``);
        multi-hot ``gt_score`` if present."""
        codes = self(feats)
        if self.tanh_relax:
            codes = torch.tanh(codes)
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        return dict(loss=self.loss_module(codes, target.to(codes.device)))

    @staticmethod
    def binarize(x: torch.Tensor) -> torch.Tensor:
        """``sign`` with ``sign(0) = +1`` so every bit is exactly ``+1`` or ``-1``."""
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    def predict(self,
                feats: Sequence[torch.Tensor],
                data_samples: Optional[Sequence[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Set ``hash_code`` (``+1 / -1`` float tensor of length ``code_length``)."""
        codes = self.binarize(self(feats)).detach()
        out = []
        for sample, code in zip(prepare_data_samples(data_samples, codes.size(0)), codes):
            sample.set_field(code, 'hash_code', dtype=torch.Tensor)
            out.append(sample)
        return out
