"""configs/genet: paper mirrors build with the published sizes; the small config runs."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mmext  # noqa: F401


def build(path, device='cpu'):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    # ImageNet-size models are built on the meta device: counting parameters needs no memory
    with torch.device(device):
        return cfg, MODELS.build(cfg.model)


@pytest.mark.parametrize('path,params', [
    ('configs/genet/genet-small_8xb64-480e_in1k-192px.py', 8.17e6),
    ('configs/genet/genet-normal_8xb64-480e_in1k-192px.py', 21.14e6),
    ('configs/genet/genet-large_8xb64-480e_in1k-256px.py', 31.08e6),
])
def test_in1k_configs(path, params):
    _, model = build(path, 'meta')
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - params) / params < 0.02


def test_fashionmnist_config_forward_and_step():
    cfg, model = build('configs/genet/genet-tiny_1xb128-2e_fashionmnist.py')
    assert cfg.model.backbone.in_channels == 1
    out = model(torch.randn(2, 1, 28, 28), mode='tensor')
    assert out.shape == (2, 10)
