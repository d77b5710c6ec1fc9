from pathlib import Path

import pytest
import torch
from mmpretrain.structures import DataSample

import mmext  # noqa: F401

# sibling module of this file (pytest puts this folder on sys.path)
from _config_checks import build_classifier, train_steps

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / 'hyp2'


def _build(name):
    return build_classifier(CONFIG_DIR / name)


@pytest.mark.parametrize('bits', [16, 32, 48, 64])
def test_voc_mirrors(bits):
    cfg, model = _build(f'hyp2_inception-v3_1xb100-100e_voc2007-{bits}bit.py')
    loss = model.head.loss_module
    assert loss.code_length == bits and loss.threshold == 0.0 and loss.beta == 0.5
    assert model.backbone.fc.out_features == bits  # the backbone fc is the hash layer
    assert cfg.val_evaluator.num_queries == 4952
    if bits == 48:
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, 96, 96), [DataSample()], mode='predict')
        assert out[0].hash_code.shape == (48, )
        model.train()
        samples = [DataSample().set_gt_label([0, 5]).set_gt_score(
            torch.eye(20)[0] + torch.eye(20)[5]) for _ in range(2)]
        assert torch.isfinite(model(torch.randn(2, 3, 96, 96), samples, mode='loss')['loss'])


def test_fashionmnist_config_trains_a_step():
    cfg, model = _build('hyp2_resnet18-w16_1xb128-300i_fashionmnist-48bit.py')
    assert cfg.val_dataloader.dataset.test_mode
    assert model.head.code_length == 48 and model.head.loss_module.threshold == 0.0
    x = torch.randn(4, 1, 28, 28)
    train_steps(model, x, [0, 1, 2, 3])
    model.eval()
    out = model(x, [DataSample() for _ in range(4)], mode='predict')
    assert set(out[0].hash_code.unique().tolist()) <= {-1., 1.}
