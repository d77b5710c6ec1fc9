from pathlib import Path

import pytest
import torch
from mmpretrain.structures import DataSample

import mmext  # noqa: F401

# sibling module of this file (pytest puts this folder on sys.path)
from _config_checks import build_classifier, train_steps

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / 'softtriple'


def _build(name):
    return build_classifier(CONFIG_DIR / name)


def test_cub_mirror_builds_with_paper_hyper_parameters():
    cfg, model = _build('softtriple_resnet50_1xb32-50e_cub.py')
    head = model.head
    assert (head.embed_dims, head.num_centers) == (64, 10)
    loss = head.loss_module
    assert (loss.la, loss.gamma, loss.tau, loss.margin) == (20., 0.1, 0.2, 0.01)
    assert head.centers.shape == (200 * 10, 64)
    # ResNet-50 trunk (23.5M) + 2048x64 projection + 2000 centers
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == pytest.approx(23.5e6 + 2048 * 65 + 2000 * 64, rel=0.01)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['head.centers']['lr_mult'] == 100.
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), [DataSample()], mode='predict')
    assert out[0].embedding.shape == (64, )


def test_fashionmnist_config_trains_a_step():
    cfg, model = _build('softtriple_resnet18-w16_1xb128-1e_fashionmnist.py')
    assert cfg.val_dataloader.dataset.test_mode and cfg.test_dataloader.dataset.test_mode
    assert cfg.val_evaluator[0]['type'] == 'mmext.RecallAtK'
    train_steps(model, torch.randn(4, 1, 28, 28), [0, 1, 2, 3])
