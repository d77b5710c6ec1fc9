import pytest
import torch
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.layers import LBCConv2d
from mmext.models.layers.compression_utils import (binary_violations, grid_violations,
                                                   nm_violations)

from _compression_tool_helpers import chex_masks, make_config, save_checkpoint


def _finish_lbc(model):
    for m in model.modules():
        if isinstance(m, LBCConv2d):
            m.remove_combinations(m.num_combinations - 1)


@pytest.mark.parametrize('layer,prepare', [
    (dict(type='mmext.LBCConv2d', N=1, M=4), _finish_lbc),
    (dict(type='mmext.ReSTEConv2d', binarize_act=False), None),
    (dict(type='mmext.LSQConv2d', weight_bits=2, act_bits=None), None),
])
def test_export_loads_into_plain_model_with_same_outputs(load_tool, tmp_path, layer, prepare):
    cfg = make_config(tmp_path, layer)
    ckpt, model = save_checkpoint(tmp_path, cfg, prepare)
    out = tmp_path / 'plain.pth'
    assert load_tool('model_converters/export_compressed.py').main([cfg, ckpt, str(out)]) == 0
    saved = torch.load(str(out), weights_only=False)
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    plain = MODELS.build(saved['meta']['plain_model'])
    plain.load_state_dict(saved['state_dict'], strict=True)  # no auxiliary tensors left
    assert type(plain.backbone.layer1[0].conv1) is torch.nn.Conv2d
    model.eval()
    plain.eval()
    x = torch.randn(2, 1, 12, 12)
    # weight-only compression is fully representable in the plain model
    assert torch.allclose(model(x, mode='tensor'), plain(x, mode='tensor'), atol=1e-5)
    w = plain.backbone.layer2[0].conv1.weight
    info = saved['meta']['compression']['backbone.layer2.0.conv1']
    if info['method'] == 'LBC':
        assert nm_violations(w, 1, 4) == 0 and float((w == 0).float().mean()) == 0.75
    elif info['method'] == 'ReSTE':
        assert binary_violations(w) == 0
    else:
        assert grid_violations(w, torch.tensor(info['step']), info['qmin'], info['qmax']) == 0


@pytest.mark.parametrize('residual', [False, True])
def test_chex_export_is_a_smaller_equal_network(load_tool, tmp_path, residual):
    from mmext.models.layers.compression_utils import build_from_config
    hook = dict(type='mmext.CHEXHook', end=2, prune_residual=residual)
    cfg = make_config(tmp_path, custom_hooks=[hook])
    prepare = chex_masks(residual)
    ckpt, model = save_checkpoint(tmp_path, cfg, prepare)
    out = tmp_path / 'small.pth'
    assert load_tool('model_converters/export_compressed.py').main(
        [cfg, ckpt, str(out), '--out-config', str(tmp_path / 'small_cfg.py')]) == 0
    small = build_from_config(str(tmp_path / 'small_cfg.py'), str(out))  # strict load
    model.eval()
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(model(x, mode='tensor'), small(x, mode='tensor'), atol=1e-5)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(small) < n(model)
    assert small.backbone.layer2[0].conv1.out_channels == \
        int(prepare.masks['backbone.layer2.0.conv1'].sum())
    fc_in = int(prepare.masks['backbone.layer2.0.downsample.0'].sum()) if residual else 16
    assert small.head.fc.in_features == fc_in
