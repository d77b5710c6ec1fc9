"""configs/zennet: the ZenNet ImageNet configs build with the published sizes."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mmext  # noqa: F401


@pytest.mark.parametrize('flops,params', [(400, 7.47e6), (600, 11.31e6), (900, 19.4e6)])
def test_in1k_configs(flops, params):
    # with SE gates (see test_zennet.py for the README's SE-less 5.7M / 7.1M figures)
    cfg = Config.fromfile(f'configs/zennet/zennet-flops{flops}m-se_8xb64-480e_in1k.py')
    init_default_scope('mmpretrain')
    with torch.device('cpu' if flops == 400 else 'meta'):
        model = MODELS.build(cfg.model)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - params) / params < 0.02
    if flops == 400:
        model.eval()
        assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 1000)
