"""CoIns configs (configs/coins): the ImageNet mirror builds and forwards, the Fashion-MNIST
pair (CoIns and its coarse cross-entropy baseline) trains two iterations on real images."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

import mmext  # noqa: F401

# sibling module of this file (pytest puts this folder on sys.path)
from _config_checks import build_classifier, tiny_probe_run_cfg

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / 'coins'
FM = 'resnet8-w16_1xb128-1200it_fashionmnist-coarse4.py'


def test_imagenet_mirror_has_the_official_recipe():
    cfg, model = build_classifier(CONFIG_DIR / 'coins_resnet50_8xb32-coslr-200e_in1k.py')
    assert model.queue.shape == (128, 65536)
    assert model.head.temperature == 0.2
    coarse = model.coarse_head.loss_module
    assert (model.coarse_head.num_classes, coarse.la, coarse.loss_weight) == (11, 5., 0.5)
    assert cfg.optim_wrapper.optimizer.lr == 0.03 and cfg.train_cfg.max_epochs == 200
    ds = cfg.train_dataloader.dataset
    assert ds.type == 'mmext.RelabeledDataset' and ds.label_map_file.endswith('.txt')
    assert ds.dataset.pipeline[1]['type'] == 'MultiView'
    # ResNet-50 trunk (23.5M) + 2048-2048-128 neck + 11 x 128 proxies; the key encoder is a copy
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == pytest.approx(23.51e6 + 2048 * 2049 + 2049 * 128 + 11 * 128, rel=0.01)
    views = [torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)]
    losses = model.loss(views, [DataSample().set_gt_label(c) for c in (3, 10)])
    assert torch.isfinite(losses['loss_ins']) and torch.isfinite(losses['loss_coarse'])


@pytest.mark.parametrize('arm', ['coins', 'ce-coarse'])
def test_fashionmnist_config_trains_two_iterations(arm, tiny_fashion_mnist, tmp_path):
    cfg = tiny_probe_run_cfg(CONFIG_DIR / f'{arm}_{FM}', tiny_fashion_mnist, tmp_path)
    assert cfg.train_dataloader.dataset.label_map == [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]
    runner = Runner.from_cfg(cfg)
    before = runner.model.backbone.conv1.weight.detach().clone()
    runner.train()  # 2 iterations, then the feature probe on the fine classes
    assert not torch.equal(before, runner.model.backbone.conv1.weight)
    metrics = runner.val_loop.run()
    assert set(metrics) == {'knn/top1', 'linear/top1'}
    assert all(0 <= v <= 100 for v in metrics.values())
    if arm == 'coins':
        assert int(runner.model.queue_ptr) == 16  # two batches of 8 keys enqueued
    else:
        assert runner.model.head.num_classes == 4


def test_fashionmnist_evaluation_probes_the_fine_classes():
    cfg = Config.fromfile(CONFIG_DIR / f'coins_{FM}')
    assert cfg.val_cfg.type == 'mmext.FeatureProbeValLoop'
    assert cfg.val_evaluator == dict(type='mmext.FeatureProbeMetric', knn_k=200,
                                     temperature=0.07, linear_probe=True)
    bank = cfg.val_cfg.bank_dataloader.dataset
    # fine labels: the plain dataset, the training images with the test pipeline
    assert bank.type == 'FashionMNIST' and bank.indices == 10000
    assert [t['type'] for t in bank.pipeline] == ['PackInputs']
    assert cfg.val_dataloader.dataset.test_mode
    assert cfg.model.data_preprocessor.type == 'SelfSupDataPreprocessor'
    # MoCo's queue takes whole batches: 10,000 images do not split into batches of 128
    loader = cfg.train_dataloader
    assert loader.drop_last and cfg.model.queue_len % loader.batch_size == 0
