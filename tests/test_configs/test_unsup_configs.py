"""CoKe / instance-classifier configs: the ImageNet mirrors build and run a loss step on tiny
inputs; the Fashion-MNIST configs train through tools/train.py (a couple of iterations)."""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmpretrain.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401

ROOT = Path(__file__).parents[2]
COKE = 'configs/coke/coke_resnet50_8xb128-coslr-1001e_in1k.py'
COKE_MCROP = 'configs/coke/coke_resnet50_8xb128-mcrop-2-6-coslr-801e_in1k.py'
INSTCLS = 'configs/instance_classifier/instcls_resnet50_8xb128-coslr-200e_in1k.py'
FASHION = [
    'configs/coke/coke_resnet8-w16_1xb128-20e_fashionmnist.py',
    'configs/instance_classifier/instcls_resnet8-w16_1xb128-20e_fashionmnist.py',
    'configs/coke/resnet8-w16_supervised_1xb128-20e_fashionmnist.py',
    'configs/coke/resnet8-w16_random-init_fashionmnist.py',
]


def _build(path, **head):
    cfg = Config.fromfile(str(ROOT / path))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # as the Runner
    model_cfg.head.update(head)
    # SyncBN in a single process: the host tests revert it to BN the same way
    return cfg, revert_sync_batchnorm(MODELS.build(model_cfg))


def _samples(n):
    return [DataSample(metainfo=dict(sample_idx=i)) for i in range(n)]


def test_coke_imagenet_mirrors():
    cfg, model = _build(COKE)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([123.675, 116.28, 103.53])
    head = model.head
    assert head.num_clusters == (3000, 4000, 5000) and head.num_instances == 1281167
    assert (head.temperature, head.dual_lr, head.ratio, head.loss_module.alpha) == (
        0.05, 20., 0.4, 0.2)
    assert cfg.optim_wrapper.optimizer.lr == 1.6 and cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_cfg.max_epochs == 1001 and cfg.train_dataloader.batch_size == 128
    assert [HOOKS.build(h).zero_lr_epochs for h in cfg.custom_hooks] == [1]
    # projection 2048-2048-2048-128 (BN after each linear), predictor 128-2048-128
    widths = [m.out_features for m in model.neck.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [2048, 2048, 128]
    assert sum(p.numel() for p in model.backbone.parameters()) == 23508032
    views = [torch.randn(2, 3, 32, 32) for _ in range(2)]
    out = model(views, _samples(2), mode='loss')
    assert torch.isfinite(out['loss'])

    cfg, model = _build(COKE_MCROP)
    assert cfg.train_cfg.max_epochs == 801
    assert cfg.train_pipeline[1].num_views == [1, 1, 6]
    views += [torch.randn(2, 3, 16, 16) for _ in range(6)]
    out = model(views, _samples(2), mode='loss')
    assert set(out) == {'loss', 'large_views', 'small_crops'}


def test_instance_classifier_imagenet_mirror():
    cfg = Config.fromfile(str(ROOT / INSTCLS))
    assert cfg.model.head.num_instances == 1281167
    # 1.28 M x 128 classifier weights are 655 MB: build the same model with 1,000 classes
    _, model = _build(INSTCLS, num_instances=1000)
    assert model.head.fc.weight.shape == (1000, 128)
    assert model._ddp_params_and_buffers_to_ignore == ['head.fc.weight']
    out = model([torch.randn(2, 3, 32, 32)], _samples(2), mode='loss')
    assert torch.isfinite(out['loss'])


def _scalars(work_dir: Path):
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


@pytest.mark.parametrize('config', FASHION)
def test_fashionmnist_configs_train(config, tmp_path, tiny_fashion_mnist, load_tool):
    work_dir = tmp_path / 'run'
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    load_tool('train.py').main([
        config, '--work-dir', str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=8', 'train_dataloader.dataset.indices=16',
        'default_hooks.logger.interval=1',
        *(f'{loader}.dataset.data_root={tiny_fashion_mnist}' for loader in loaders),
        f'val_cfg.bank_dataloader.dataset.data_root={tiny_fashion_mnist}',
    ])
    records = _scalars(work_dir)
    assert sum('loss' in r for r in records) == 2  # 16 images, batch 8
    assert any('knn/top1' in r for r in records)
