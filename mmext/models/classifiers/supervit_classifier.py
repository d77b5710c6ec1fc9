"""Training wrapper of SuperViT (sampled sub-networks + in-place distillation).

Lin et al., "Super Vision Transformer", arXiv:2205.11397.
"""
import random
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample

from mmext.registry import MODELS

__all__ = ['SuperViTClassifier']


@MODELS.register_module()
class SuperViTClassifier(ImageClassifier):
    """Image classifier that trains a :class:`mmext.SuperViT` for all its settings at once.

    From "Super Vision Transformer" (Lin et al., arXiv:2205.11397). Every training step runs
    four sub-networks on the same batch, as the official code does: the full setting
    ``(max grid, 1)`` and a random smaller grid with keeping rate 1 learn from the labels
    (cross-entropy through the head), and each is the teacher of a sibling with the same grid
    and a random keeping rate < 1, trained with KL divergence to the teacher's detached softmax.
    The losses are summed (the official code accumulates their gradients before one optimizer
    step, which is the same update). Inference uses ``test_setting`` (or the backbone's
    ``default_setting``).

    Args:
        backbone (dict): A ``mmext.SuperViT`` config.
        neck (dict, optional): Neck config. Defaults to None.
        head (dict, optional): Classification head config. Defaults to None.
        test_setting (tuple, optional): ``(grid, keep_rate)`` used by ``predict`` and
            ``extract_feat`` outside training. Defaults to None (backbone default).
        kd_weight (float): Weight of each distillation loss. Defaults to 1.0.
        **kwargs: Other ``ImageClassifier`` arguments (``train_cfg``, ``data_preprocessor``,
            ``init_cfg``, ...).
    """

    def __init__(self,
                 backbone: Dict,
                 neck: Optional[Dict] = None,
                 head: Optional[Dict] = None,
                 test_setting: Optional[Tuple[int, float]] = None,
                 kd_weight: float = 1.0,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        for name in ('set_setting', 'token_grids', 'keep_rates', 'default_setting'):
            if not hasattr(self.backbone, name):
                raise TypeError(f'"backbone" must be a SuperViT-like backbone with '
                                f'`{name}`, got {type(self.backbone).__name__}')
        if kd_weight < 0:
            raise ValueError(f'"kd_weight" must be >= 0, got {kd_weight}')
        self.kd_weight = kd_weight
        self.test_setting = tuple(test_setting) if test_setting is not None \
            else tuple(self.backbone.default_setting)
        # validates grid and keep rate at build time
        self.backbone.set_setting(*self.test_setting)

    def sample_subnets(self) -> List[Tuple[int, float]]:
        """The four ``(grid, keep_rate)`` settings of one training step.

        Order: full, full-grid pruned, small grid, small grid pruned; even entries are trained
        with labels, odd ones distil from the entry before them.
        """
        grids, rates = self.backbone.token_grids, self.backbone.keep_rates
        small_rates = [r for r in rates if r < 1.0] or [1.0]
        small_grids = list(grids[:-1]) or [grids[-1]]
        grid = random.choice(small_grids)
        return [(grids[-1], 1.0), (grids[-1], random.choice(small_rates)), (grid, 1.0),
                (grid, random.choice(small_rates))]

    def _logits(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.head(feats)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> Dict:
        losses = {}
        teacher_prob = None
        try:
            for i, setting in enumerate(self.sample_subnets()):
                self.backbone.set_setting(*setting)
                feats = self.extract_feat(inputs)
                tag = f'g{setting[0]}_r{setting[1]:g}'
                if i % 2 == 0:
                    for k, v in self.head.loss(feats, data_samples).items():
                        losses[f'{k}_{tag}' if i else k] = v
                    with torch.no_grad():
                        teacher_prob = F.softmax(self._logits(feats).float(), dim=1)
                else:
                    log_p = F.log_softmax(self._logits(feats).float(), dim=1)
                    # KL(teacher || student), averaged over the batch ("batchmean").
                    kd = F.kl_div(log_p, teacher_prob, reduction='batchmean')
                    losses[f'loss_kd_{tag}_{i}'] = self.kd_weight * kd
        finally:
            self.backbone.set_setting(*self.test_setting)
        return losses

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck'):
        if not self.training:
            self.backbone.set_setting(*self.test_setting)
        return super().extract_feat(inputs, stage=stage)
