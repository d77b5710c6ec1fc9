"""configs/maedet: the COCO configs build with the published backbone sizes; the nuclei
configs (search start and searched backbone) build and train."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmext  # noqa: F401

ROOT = Path(__file__).parents[2]
NUCLEI = sorted((ROOT / 'configs/maedet').glob('retinanet_maedet-*_nuclei.py'))


@pytest.mark.parametrize('arch,params,neck', [('s', 21.2e6, 192), ('m', 25.8e6, 256),
                                              ('l', 43.9e6, 256)])
def test_coco_configs(arch, params, neck):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(ROOT / f'configs/maedet/gfl_maedet-{arch}_fpn_8xb2-ms-73e_coco.py')
    assert cfg.default_scope == 'mmdet' and cfg.train_cfg.max_epochs == 73
    assert cfg.optim_wrapper.optimizer.lr == 0.02 and cfg.train_dataloader.batch_size == 2
    init_default_scope('mmdet')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    n = sum(p.numel() for p in model.backbone.parameters())
    assert abs(n - params) / params < 0.01
    assert list(cfg.model.neck.in_channels) == model.backbone.out_channels
    assert cfg.model.neck.out_channels == neck == cfg.model.bbox_head.in_channels
    if arch == 's':  # the FPN and the head take the backbone's maps
        model = revert_sync_batchnorm(MODELS.build(cfg.model)).eval()
        with torch.no_grad():
            outs = model(torch.randn(1, 3, 64, 96), mode='tensor')
        assert len(outs[0]) == 5 and outs[0][0].shape[-2:] == (8, 12)


@pytest.mark.parametrize('path', NUCLEI, ids=lambda p: p.name)
def test_nuclei_configs_train(path, nuclei_root, tmp_path):
    from mmext.models.backbones.maedet import parse_maedet_structure
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.type == 'mmext.MAEDet'
    structure = parse_maedet_structure(cfg.model.backbone.arch)
    assert list(cfg.model.neck.in_channels) == [b['out'] for b in structure[1:]]
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.default_hooks.checkpoint = None
    cfg.param_scheduler = None
    runner = Runner.from_cfg(cfg)
    before = [p.detach().clone() for p in runner.model.backbone.parameters()]
    runner.train()
    changed = [not torch.equal(a, p) for a, p in zip(before, runner.model.backbone.parameters())]
    assert all(changed)
