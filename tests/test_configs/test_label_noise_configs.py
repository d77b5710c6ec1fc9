from pathlib import Path

import pytest
import torch
from mmpretrain.structures import DataSample

import mmext  # noqa: F401

# sibling module of this file (pytest puts this folder on sys.path)
from _config_checks import build_classifier

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / 'label_noise'
FM = 'resnet18-w16_1xb128-200i_fashionmnist'


def _build(name):
    return build_classifier(CONFIG_DIR / name)


@pytest.mark.parametrize('method', ['ce', 'mddc', 'cddc'])
@pytest.mark.parametrize('rate', [20, 40])
def test_fashionmnist_configs(method, rate):
    cfg, model = _build(f'{method}_{FM}-idn{rate}.py')
    ds = cfg.train_dataloader.dataset
    assert ds.type == 'mmext.NoisyLabelFashionMNIST'
    assert ds.noisy_label_file == f'noisy_labels/idn-0.{rate // 10}_seed0.npy'
    assert cfg.val_dataloader.dataset.test_mode
    if method != 'ce':
        assert model.head.loss_module.mode == ('mean' if method == 'mddc' else 'covariance')
    x = torch.randn(4, 1, 28, 28)
    samples = [DataSample().set_gt_label(i) for i in (0, 1, 2, 3)]
    assert torch.isfinite(model(x, samples, mode='loss')['loss'])


@pytest.mark.parametrize('method', ['mddc', 'cddc'])
def test_cifar_mirrors(method):
    cfg, model = _build(f'{method}_resnet34_1xb128-180e_cifar10.py')
    assert model.head.in_channels == 512 and model.head.warmup_iters == 15 * 391
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == pytest.approx(21.28e6, rel=0.01)  # ResNet-34 (CIFAR stem) + fc
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32), [DataSample()], mode='predict')
    assert out[0].pred_score.shape == (10, )
