"""DR-loss configs: the COCO mirror builds and computes a loss; the nuclei config trains."""
import math
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import mmext  # noqa: F401
from mmext.models.heads import DRRetinaHead

ROOT = Path(__file__).parents[2]
COCO = 'configs/dr_loss/retinanet_r50_fpn_dr-loss_1x_coco.py'
NUCLEI = 'configs/dr_loss/retinanet_r18_fpn_dr-loss_1xb4-300i_nuclei.py'


def test_coco_config_builds_and_computes_loss():
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    cfg = Config.fromfile(ROOT / COCO)
    assert cfg.custom_imports['imports'] == ['mmext'] and cfg.default_scope == 'mmdet'
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    head = model.bbox_head
    assert isinstance(head, DRRetinaHead) and head.num_classes == 80
    loss = head.loss_cls
    assert (loss.L, loss.tau, loss.margin, loss.pos_lambda) == (6., 4., 0.5, 1.)
    assert math.isclose(loss.neg_lambda, 0.1 / math.log(3.5), rel_tol=1e-9)
    assert cfg.model.train_cfg.assigner.neg_iou_thr == 0.5 and cfg.model.test_cfg.score_thr == 0.2
    # ResNet-50 + FPN + RetinaHead(80 classes, 9 anchors): 37.97M parameters as in mmdet
    params = sum(p.numel() for p in model.parameters())
    assert abs(params - 37.97e6) / 37.97e6 < 0.01
    sample = DetDataSample(metainfo=dict(img_shape=(128, 128), pad_shape=(128, 128)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 70., 80.]]), labels=torch.tensor([3]))
    losses = model.loss(torch.randn(1, 3, 128, 128), [sample])
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    assert torch.isfinite(losses['loss_cls']) and losses['loss_cls'] > 0


def test_nuclei_config_trains(nuclei_root, tmp_path):
    cfg = Config.fromfile(ROOT / NUCLEI)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.default_hooks.checkpoint = None
    cfg.param_scheduler = None
    runner = Runner.from_cfg(cfg)
    before = [p.detach().clone() for p in runner.model.parameters()]
    runner.train()
    assert isinstance(runner.model.bbox_head, DRRetinaHead)
    changed = [not torch.equal(a, p) for a, p in zip(before, runner.model.parameters())]
    assert all(changed)
