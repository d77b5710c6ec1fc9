"""Linear head with dynamic distribution calibration against label noise (arXiv 2210.05126)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from ..layers.head_utils import pooled_feature, prepare_data_samples

__all__ = ['DistributionCalibrationHead']


@MODELS.register_module()
class DistributionCalibrationHead(BaseModule):
    """Linear classifier trained on real and calibrated-Gaussian features under label noise.

    From "Tackling Instance-Dependent Label Noise with Dynamic Distribution Calibration" (Zhang
    et al., ACM MM 2022, arXiv 2210.05126). After a warm-up, labels are corrected PLC-style
    (a sample is relabelled to the predicted class when that class's probability exceeds the
    given label's by ``correct_thr``); the pooled features of samples whose (corrected) label
    agrees with the prediction fill a per-class memory. Every ``calib_interval`` iterations the
    class Gaussians are re-estimated from the memory by the loss (robust mean for MDDC,
    disturbed covariance for CDDC, see :class:`mmext.DistributionCalibrationLoss`), and each
    iteration features sampled from them are classified alongside the real batch. The memory
    and the Gaussians are buffers of each process (not synchronised across GPUs) and are saved
    in checkpoints, so resuming keeps the calibration state.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the pooled backbone feature.
        memory_size (int): Features kept per class (FIFO). Defaults to 256.
        warmup_iters (int): Iterations of plain cross-entropy before correction and
            calibration start (the memory fills with every sample meanwhile). Defaults to 500.
        calib_interval (int): Iterations between re-estimations of the Gaussians.
            Defaults to 50.
        correct_thr (float, optional): Probability gap for label correction; ``None``
            disables correction. Defaults to 0.5.
        min_count (int): Features a class needs in memory to be calibrated. Defaults to 32.
        loss (dict): Loss config. Defaults to
            ``dict(type='mmext.DistributionCalibrationLoss', mode='mean')``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to
            ``dict(type='Normal', layer='Linear', std=0.01)`` (as mmpretrain's LinearClsHead).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 memory_size: int = 256,
                 warmup_iters: int = 500,
                 calib_interval: int = 50,
                 correct_thr: Optional[float] = 0.5,
                 min_count: int = 32,
                 loss: dict = dict(type='mmext.DistributionCalibrationLoss', mode='mean'),
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'"num_classes" must be >= 2, got {num_classes}')
        if in_channels < 1:
            raise ValueError(f'"in_channels" must be >= 1, got {in_channels}')
        if memory_size < 2:
            raise ValueError(f'"memory_size" must be >= 2, got {memory_size}')
        if not 2 <= min_count <= memory_size:
            raise ValueError(f'"min_count" must be in [2, memory_size={memory_size}], '
                             f'got {min_count}')
        if warmup_iters < 0:
            raise ValueError(f'"warmup_iters" must be >= 0, got {warmup_iters}')
        if calib_interval < 1:
            raise ValueError(f'"calib_interval" must be >= 1, got {calib_interval}')
        if correct_thr is not None and not 0. < correct_thr <= 1.:
            raise ValueError(f'"correct_thr" must be in (0, 1] or None, got {correct_thr}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.memory_size = memory_size
        self.warmup_iters = warmup_iters
        self.calib_interval = calib_interval
        self.correct_thr = correct_thr
        self.min_count = min_count
        self.loss_module = MODELS.build(loss)
        self.fc = nn.Linear(in_channels, num_classes)

        # per-class FIFO memory of "clean-looking" features and the calibrated Gaussians
        self.register_buffer('memory', torch.zeros(num_classes, memory_size, in_channels))
        self.register_buffer('mem_count', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('mem_ptr', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('calib_mean', torch.zeros(num_classes, in_channels))
        self.register_buffer('calib_sqrt_cov', torch.zeros(num_classes, in_channels, in_channels))
        self.register_buffer('calib_valid', torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer('num_iters', torch.zeros((), dtype=torch.long))

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The pooled last-stage feature, ``(B, in_channels)``."""
        return pooled_feature(feats, self.in_channels, 'DistributionCalibrationHead')

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Class logits, ``(B, num_classes)``."""
        return self.fc(self.pre_logits(feats))

    @torch.no_grad()
    def correct_labels(self, cls_score: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """PLC-style correction: relabel where ``p(pred) - p(label) >= correct_thr``."""
        if self.correct_thr is None:
            return target
        prob = F.softmax(cls_score.float(), dim=1)
        top, pred = prob.max(dim=1)
        gap = top - prob.gather(1, target[:, None]).squeeze(1)
        return torch.where(gap >= self.correct_thr, pred, target)

    @torch.no_grad()
    def enqueue(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        """Push features into the FIFO memory of their classes."""
        x = x.detach().to(self.memory.dtype)
        for c in labels.unique().tolist():
            xc = x[labels == c][-self.memory_size:]
            pos = (self.mem_ptr[c] + torch.arange(xc.size(0), device=x.device)) % self.memory_size
            self.memory[c, pos] = xc
            self.mem_ptr[c] = (self.mem_ptr[c] + xc.size(0)) % self.memory_size
            self.mem_count[c] = (self.mem_count[c] + xc.size(0)).clamp_max(self.memory_size)

    @torch.no_grad()
    def recalibrate(self) -> None:
        """Re-estimate the Gaussian of every class with at least ``min_count`` features."""
        for c in range(self.num_classes):
            n = int(self.mem_count[c])
            if n < self.min_count:
                continue
            mean, sqrt_cov = self.loss_module.calibrate(self.memory[c, :n])
            self.calib_mean[c] = mean
            self.calib_sqrt_cov[c] = sqrt_cov
            self.calib_valid[c] = True

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Loss of a batch: cross-entropy on real (corrected) and sampled features."""
        x = self.pre_logits(feats)
        cls_score = self.fc(x)
        target = torch.cat([s.gt_label for s in data_samples]).to(x.device)
        in_warmup = bool(self.num_iters < self.warmup_iters)
        losses = dict()
        if in_warmup:
            self.enqueue(x, target)
        else:
            target = self.correct_labels(cls_score, target)
            agree = cls_score.argmax(dim=1) == target
            self.enqueue(x[agree], target[agree])
            if (int(self.num_iters) - self.warmup_iters) % self.calib_interval == 0:
                self.recalibrate()
        self.num_iters += 1

        sampled_score = sampled_target = None
        if not in_warmup and self.calib_valid.any():
            classes = self.calib_valid.nonzero().squeeze(1)
            sampled, idx = self.loss_module.sample(self.calib_mean[classes],
                                                   self.calib_sqrt_cov[classes])
            # the sampled features only train the classifier (they carry no backbone gradient)
            sampled_score = self.fc(sampled.to(x.dtype))
            sampled_target = classes[idx]
        losses['loss'] = self.loss_module(cls_score, target, sampled_score, sampled_target)
        return losses

    def predict(self,
                feats: Tuple[torch.Tensor],
                data_samples: Optional[Sequence[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Set ``pred_score`` (softmax) and ``pred_label`` of each sample."""
        scores = F.softmax(self(feats), dim=1).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        out = []
        for sample, score, label in zip(prepare_data_samples(data_samples, scores.size(0)),
                                        scores, labels):
            out.append(sample.set_pred_score(score).set_pred_label(label))
        return out
