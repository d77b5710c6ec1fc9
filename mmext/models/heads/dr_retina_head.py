"""RetinaNet head trained with the DR loss (arXiv 1907.10156)."""
from typing import Dict, List

import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.task_modules.samplers import PseudoSampler
from mmdet.structures.bbox import cat_boxes, get_box_tensor
from mmdet.utils import ConfigType, InstanceList, OptInstanceList
from torch import Tensor

from mmext.models.losses.dr_loss import DRLoss
from mmext.registry import MODELS

__all__ = ['DRRetinaHead']


@MODELS.register_module()
class DRRetinaHead(RetinaHead):
    """RetinaNet head whose classification branch is trained with :class:`mmext.DRLoss`.

    From "DR Loss: Improving Object Detection by Distributional Ranking" (Qian et al., CVPR 2020,
    arXiv 1907.10156). The network is the stock mmdet :class:`RetinaHead`; only the loss is
    gathered differently. The DR loss ranks the distribution of *all* foreground candidates of an
    image above that of *all* its background candidates, so it needs every level's scores of one
    image at once and no normalisation by the number of positives. mmdet's ``AnchorHead`` calls
    ``loss_cls`` once per FPN level on the whole batch with ``avg_factor=num_pos``, which would
    rank per level across images; this head therefore overrides :meth:`loss_by_feat` to
    concatenate the levels into (B, num_anchors, C) and call the DR loss per image (mean over
    images). The box regression loss is unchanged (summed over all levels, divided by the number
    of positives, exactly like the per-level sum of the stock head).

    Args:
        num_classes (int): Number of foreground classes.
        in_channels (int): Channels of the input feature maps.
        loss_cls (dict): Config of the classification loss; must build a
            :class:`mmext.DRLoss`. Defaults to ``dict(type='mmext.DRLoss')``.
        **kwargs: Other arguments of :class:`mmdet.models.RetinaHead` (``stacked_convs``,
            ``anchor_generator``, ``bbox_coder``, ``loss_bbox``, ``train_cfg``, ``init_cfg``...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss_cls: ConfigType = dict(type='mmext.DRLoss', use_sigmoid=True),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, **kwargs)
        if not isinstance(self.loss_cls, DRLoss):
            raise ValueError('"loss_cls" of DRRetinaHead must be mmext.DRLoss, got '
                             f'{type(self.loss_cls).__name__}')
        if hasattr(self, 'sampler') and not isinstance(self.sampler, PseudoSampler):
            raise ValueError('DRRetinaHead ranks every anchor of an image: "train_cfg.sampler" '
                             'must be a PseudoSampler (no sampling)')

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None) -> Dict[str, Tensor]:
        """Compute the DR classification loss per image and the box loss.

        Args:
            cls_scores (list[Tensor]): Scores of each level, (B, A * C, H, W).
            bbox_preds (list[Tensor]): Box deltas of each level, (B, A * 4, H, W).
            batch_gt_instances (list[InstanceData]): Ground truth of each image.
            batch_img_metas (list[dict]): Meta information of each image.
            batch_gt_instances_ignore (list[InstanceData], optional): Ignored boxes.

        Returns:
            dict[str, Tensor]: ``loss_cls`` and ``loss_bbox``.
        """
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        if len(featmap_sizes) != self.prior_generator.num_levels:
            raise ValueError(f'got {len(featmap_sizes)} levels of scores, the anchor generator '
                             f'has {self.prior_generator.num_levels}')
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=device)
        (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(
             anchor_list,
             valid_flag_list,
             batch_gt_instances,
             batch_img_metas,
             batch_gt_instances_ignore=batch_gt_instances_ignore)
        num_imgs = len(batch_img_metas)

        # per level (B, A * C, H, W) -> (B, H * W * A, C); levels concatenated -> (B, N, C),
        # in the same anchor order as the targets of get_targets
        cls_score = torch.cat([
            s.permute(0, 2, 3, 1).reshape(num_imgs, -1, self.cls_out_channels)
            for s in cls_scores
        ], dim=1)
        labels = torch.cat(labels_list, dim=1)
        label_weights = torch.cat(label_weights_list, dim=1)
        loss_cls = self.loss_cls(cls_score, labels, label_weights)

        bbox_pred = torch.cat(
            [b.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4) for b in bbox_preds], dim=1)
        bbox_targets = torch.cat(bbox_targets_list, dim=1).reshape(-1, 4)
        bbox_weights = torch.cat(bbox_weights_list, dim=1).reshape(-1, 4)
        bbox_pred = bbox_pred.reshape(-1, bbox_pred.size(-1))
        if self.reg_decoded_bbox:
            anchors = cat_boxes([cat_boxes(a) for a in anchor_list])
            bbox_pred = get_box_tensor(self.bbox_coder.decode(anchors, bbox_pred))
        loss_bbox = self.loss_bbox(
            bbox_pred, bbox_targets, bbox_weights, avg_factor=avg_factor)
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)
