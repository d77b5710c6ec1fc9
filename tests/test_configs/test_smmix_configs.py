"""SMMix configs: the DeiT-S mirror builds and forwards; the Fashion-MNIST ViTs take steps."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.classifiers import SMMixClassifier

ROOT = Path(__file__).parents[2]
DEIT = 'configs/smmix/deit-small_smmix_4xb256_in1k.py'
FASHION = [
    'configs/smmix/vit-tiny-p4_smmix_1xb128-1e_fashionmnist.py',
    'configs/smmix/vit-tiny-p4_patchcutmix_1xb128-1e_fashionmnist.py',
    'configs/smmix/vit-tiny-p4_1xb128-1e_fashionmnist.py',
]


def _build(path):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(ROOT / path)
    assert cfg.custom_imports['imports'] == ['mmext'] and cfg.default_scope == 'mmpretrain'
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return cfg, MODELS.build(model_cfg)


def test_deit_small_config():
    cfg, model = _build(DEIT)
    assert isinstance(model, SMMixClassifier)
    # official settings: 14x14 tokens, square sides 3..10, SMMix on half of the batches
    assert model.side == 14 and model.region_sizes == list(range(3, 11))
    assert model.smmix_prob == 0.5 and model.data_preprocessor.batch_augments is None
    assert all(t['type'] != 'RandomErasing' for t in cfg.train_dataloader.dataset.pipeline)
    # DeiT-S 22.05M + the 384 -> 1000 token head
    params = sum(p.numel() for p in model.parameters())
    assert params == 22_050_664 + 385_000
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224), mode='tensor')
    assert out.shape == (1, 1000)


@pytest.mark.parametrize('path', FASHION)
def test_fashion_configs_take_steps(path):
    torch.manual_seed(0)
    cfg, model = _build(path)
    from mmengine.optim import build_optim_wrapper
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = dict(
        inputs=[torch.randint(0, 255, (1, 28, 28), dtype=torch.uint8) for _ in range(8)],
        data_samples=[DataSample().set_gt_label(i % 10) for i in range(8)])
    if isinstance(model, SMMixClassifier):
        model.smmix_prob = 1.0  # make both steps SMMix steps
    before = model.backbone.cls_token.detach().clone()
    for _ in range(2):
        log = model.train_step(data, optim)
        assert all(torch.isfinite(v) for v in log.values())
    assert ('loss_fine' in log) == isinstance(model, SMMixClassifier)
    assert not torch.equal(before, model.backbone.cls_token)
