import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import mmext  # noqa: F401
from mmext.models.heads import DRRetinaHead
from mmext.models.losses import DRLoss

ANCHORS = dict(
    type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1, ratios=[1.0],
    strides=[8, 16])
TRAIN_CFG = ConfigDict(
    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0,
                  ignore_iof_thr=-1),
    sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False)


def build_head(**kwargs):
    return DRRetinaHead(
        num_classes=2, in_channels=4, stacked_convs=1, feat_channels=4,
        anchor_generator=ANCHORS, train_cfg=TRAIN_CFG, **kwargs)


def inputs():
    torch.manual_seed(0)
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64)) for _ in range(2)]
    gts = []
    for boxes, labels in (([[4., 4., 36., 36.], [30., 20., 60., 50.]], [0, 1]),
                          ([[10., 10., 42., 42.]], [1])):
        gt = InstanceData()
        gt.bboxes = torch.tensor(boxes)
        gt.labels = torch.tensor(labels)
        gts.append(gt)
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4)]
    return feats, gts, metas


def test_loss_gathers_all_levels_per_image():
    head = build_head()
    feats, gts, metas = inputs()
    cls_scores, bbox_preds = head(feats)
    losses = head.loss_by_feat(cls_scores, bbox_preds, gts, metas)

    # reference: targets from the stock per-level path, scores regrouped image by image
    anchors, valid = head.get_anchors(
        [s.shape[-2:] for s in cls_scores], metas, device='cpu')
    labels, label_weights, _, _, _ = head.get_targets(anchors, valid, gts, metas)
    expected = []
    for i in range(2):
        score = torch.cat([s[i].permute(1, 2, 0).reshape(-1, 2) for s in cls_scores])
        label = torch.cat([lvl[i] for lvl in labels])
        weight = torch.cat([lvl[i] for lvl in label_weights])
        assert (label < 2).any()  # both images have positives
        expected.append(DRLoss()(score, label, weight))
    assert losses['loss_cls'].item() == pytest.approx(
        torch.stack(expected).mean().item(), rel=1e-6)

    # the box loss equals the per-level sum of mmdet's RetinaHead
    stock_bbox = [
        head.loss_bbox(*args) for args in _stock_bbox_args(head, cls_scores, bbox_preds, gts,
                                                            metas)
    ]
    assert losses['loss_bbox'].item() == pytest.approx(sum(stock_bbox).item(), rel=1e-5)

    (losses['loss_cls'] + losses['loss_bbox']).backward()
    assert all(p.grad is not None for p in head.parameters())


def _stock_bbox_args(head, cls_scores, bbox_preds, gts, metas):
    anchors, valid = head.get_anchors(
        [s.shape[-2:] for s in cls_scores], metas, device='cpu')
    _, _, targets, weights, avg_factor = head.get_targets(anchors, valid, gts, metas)
    for pred, tgt, w in zip(bbox_preds, targets, weights):
        yield (pred.permute(0, 2, 3, 1).reshape(-1, 4), tgt.reshape(-1, 4), w.reshape(-1, 4),
               avg_factor)


def test_bad_loss_cls():
    with pytest.raises(ValueError, match='"loss_cls" of DRRetinaHead must be mmext.DRLoss'):
        build_head(loss_cls=dict(type='FocalLoss', use_sigmoid=True))
