"""Every ReSTE / LTS / LBC / GaP config builds its model and hooks and runs a forward pass."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.layers import LBCConv2d, ReSTEConv2d
from mmext.models.layers.compression_utils import layer_report
from mmext.models.layers.lts import _LSQMixin

from _config_checks import tiny_train_cfg

ROOT = Path(__file__).parents[2]
CONFIGS = sorted(str(p.relative_to(ROOT)) for d in ('reste', 'lts', 'lbc', 'gap')
                 for p in (ROOT / 'configs' / d).glob('*.py'))
# LTS: every LSQ layer (convs and the classifier, as the official models quantize both)
LAYER = {'reste': ReSTEConv2d, 'lts': _LSQMixin, 'lbc': LBCConv2d}
# (parameters of the plain host model, compressed layers) for the paper mirrors
EXPECTED = {
    'reste_resnet20-1w1a_1xb256-1000e_cifar10.py': (0.27e6, 18),
    'reste_resnet18-1w1a_1xb750-250e_in1k.py': (11.69e6, 16),
    'lts_resnet18-w2a2_4xb64-100e_in1k.py': (11.69e6, 21),  # stem + 19 convs + fc
    'lts_resnet20-w2a2_1xb128-400e_cifar10.py': (0.27e6, 22),
    'lbc_resnet50-2to4_1xb256-120e_in1k.py': (25.56e6, 52),
}


def _build(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import HOOKS, MODELS
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    hooks = [HOOKS.build(h) for h in cfg.get('custom_hooks', [])]
    return cfg, model, hooks


def test_configs_found():
    assert len(CONFIGS) >= 12


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_and_forwards(path):
    cfg, model, hooks = _build(path)
    method = Path(path).parent.name
    name = Path(path).name
    assert cfg.custom_imports['imports'] == ['mmext'] and 'default_scope' not in cfg or \
        cfg.default_scope != 'mmext'
    if method in LAYER:
        layers = [m for m in model.modules() if isinstance(m, LAYER[method])]
        assert layers, f'{path} has no {LAYER[method].__name__}'
        # every config but the plain QAT baseline carries its method's hook
        assert [type(h).__name__.lower()[:len(method)] for h in hooks] == \
            ([] if name.startswith('lsq_') else [method])
    if name in EXPECTED:
        params, n_layers = EXPECTED[name]
        plain = sum(p.numel() for n, p in model.named_parameters()
                    if not n.endswith(('lbc_scores', 'weight_step', 'act_step')))
        assert abs(plain - params) / params < 0.01
        assert len(layers) == n_layers
    fashion = 'fashionmnist' in name
    size = 28 if fashion else 32
    x = torch.randn(2, 1 if fashion else 3, size, size)
    model.train()  # initialises the LSQ steps from this batch
    out = model(x, mode='tensor')
    assert out.shape == (2, 10 if (fashion or 'cifar' in name) else 1000)
    assert torch.isfinite(out).all()
    if method == 'gap':
        # the GaP partition patterns are resolved on the model (an unmatched one raises)
        rows = layer_report(model, cfg)
        assert all('sparsity' in r for r in rows)


def test_fashionmnist_lbc_trains_and_ends_nm(fashion_mnist_root, tmp_path, load_tool, capsys):
    """A real mmengine run (2 iterations) ends exactly 2:4 sparse, as the report confirms."""
    from mmengine.runner import Runner
    path = 'configs/lbc/lbc_resnet8-w16-2to4_1xb128-4e_fashionmnist.py'
    cfg = tiny_train_cfg(path, tmp_path)
    cfg.custom_hooks = [dict(type='mmext.LBCHook', start=0, end=1)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = str(tmp_path / 'epoch_1.pth')
    code = load_tool('analysis/compression_report.py').main([path, ckpt])
    assert code == 0 and 'conformance: OK' in capsys.readouterr().out
