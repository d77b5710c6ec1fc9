"""The CHEX configs build; the Fashion-MNIST one trains, exports a smaller equal network."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.layers.channel_pruning import resnet_channel_groups
from mmext.models.layers.compression_utils import build_from_config

from _config_checks import tiny_train_cfg

ROOT = Path(__file__).parents[2]
IN1K = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs/chex').glob('*_in1k.py'))
FASHION = 'configs/chex/chex_resnet8-w16-cs0.5_1xb128-4e_fashionmnist.py'


def _build(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import HOOKS
    return cfg, build_from_config(cfg), [HOOKS.build(h) for h in cfg.custom_hooks]


@pytest.mark.parametrize('path', IN1K)
def test_resnet50_recipe_builds(path):
    cfg, model, hooks = _build(path)
    assert len(IN1K) == 2
    hook, = hooks
    sparsity = 0.7 if 'cs0.7' in path else 0.5
    # README example 0.7 / 0.3, CLS/script.sh 0.5 / 0.2
    assert (hook.channel_sparsity, hook.init_channel_ratio) == \
        ((0.7, 0.3) if sparsity == 0.7 else (0.5, 0.2))
    assert (hook.interval, hook.end, cfg.train_cfg.max_epochs) == (2, 180, 250)
    assert cfg.optim_wrapper.optimizer.lr == 1.024 and cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_dataloader.batch_size == 128
    assert ('augments' in cfg.model.train_cfg) == (sparsity == 0.7)  # mixup 0.2: README flags
    assert abs(sum(p.numel() for p in model.parameters()) - 25.56e6) < 0.01e6
    # conv1 and conv2 of the 16 bottlenecks, as the official layer lists l1 / l2
    assert len(resnet_channel_groups(model)) == 32
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 1000)


def test_fashionmnist_trains_and_exports_smaller_network(fashion_mnist_root, tmp_path,
                                                         load_tool):
    from mmengine.runner import Runner
    cfg = tiny_train_cfg(FASHION, tmp_path, batch_size=8)
    cfg.custom_hooks[0].update(interval=1, end=3)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = [h for h in runner.hooks if type(h).__name__ == 'CHEXHook'][0]
    assert hook.last_update == 3
    ckpt = tmp_path / 'epoch_1.pth'
    assert 'chex' in torch.load(str(ckpt), weights_only=False)  # masks for --resume
    out = tmp_path / 'pruned.pth'
    assert load_tool('model_converters/export_compressed.py').main(
        [FASHION, str(ckpt), str(out)]) == 0
    small = build_from_config(str(tmp_path / 'pruned.py'), str(out))  # strict load
    masked = build_from_config(FASHION, str(ckpt))
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(masked(x, mode='tensor'), small(x, mode='tensor'), atol=1e-5)
    counts = hook.channel_counts()
    assert small.backbone.layer3[0].conv1.out_channels == counts['backbone.layer3.0.conv1'] < 64
    get_flops = load_tool('analysis/get_flops.py')
    dense = get_flops.main([FASHION, '--shape', '28'])
    pruned = get_flops.main([str(tmp_path / 'pruned.py'), '--shape', '28'])
    assert pruned['flops'] < 0.8 * dense['flops'] and pruned['params'] < dense['params']
