import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.layers import LBCLinear, LSQConv2d
from mmext.models.layers.compression_utils import (group_along_input, match_layers,
                                                   nm_violations, plain_model_cfg,
                                                   replace_layers, ungroup_along_input)


def _classifier(**extra):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='mmext.CIFARResNet', stage_blocks=(1, 1), in_channels=1,
                      stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=16,
                  loss=dict(type='CrossEntropyLoss')), **extra)


def test_cifar_resnet20_matches_paper_size():
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    r20 = MODELS.build(dict(type='mmext.CIFARResNet'))
    assert [len(getattr(r20, f'layer{i}')) for i in (1, 2, 3)] == [3, 3, 3]
    # 0.27M parameters (He et al. Table 6), +2.4k for the 1x1 option-B shortcuts
    assert abs(sum(p.numel() for p in r20.parameters()) - 0.27e6) < 0.005e6
    assert r20(torch.randn(1, 3, 32, 32))[0].shape == (1, 64, 8, 8)
    with pytest.raises(ValueError, match='"stage_blocks"'):
        MODELS.build(dict(type='mmext.CIFARResNet', stage_blocks=()))


def test_group_along_input_roundtrip_and_nm_count():
    w = torch.arange(2 * 8 * 3 * 3, dtype=torch.float).reshape(2, 8, 3, 3)
    g = group_along_input(w, 4)
    assert g.shape == (2 * 3 * 3 * 2, 4)
    # consecutive input channels at one kernel position form a group
    assert torch.equal(g[0], w[0, 0:4, 0, 0])
    assert torch.equal(ungroup_along_input(g, w.shape), w)
    w2 = torch.ones(1, 8)
    w2[0, [1, 5]] = 0
    assert nm_violations(w2, 3, 4) == 0 and nm_violations(w2, 2, 4) == 2


def test_compressed_model_swaps_by_pattern_and_keeps_weights():
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    dense = MODELS.build(_classifier())
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='mmext.CompressedModel', model=_classifier(),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[10.0], std=[2.0]),
        replace=[dict(pattern=r'backbone\.layer\d\.\d+\.conv[12]',
                      layer=dict(type='mmext.LSQConv2d', weight_bits=4)),
                 dict(pattern='head.fc', layer=dict(type='mmext.LBCLinear', N=1, M=4))]))
    assert isinstance(model.backbone.layer2[0].conv1, LSQConv2d)
    assert type(model.backbone.conv1) is nn.Conv2d  # stem untouched
    assert isinstance(model.head.fc, LBCLinear)
    assert torch.equal(model.backbone.layer2[0].conv1.weight, dense.backbone.layer2[0].conv1.weight)
    assert float(model.data_preprocessor.mean) == 10.0  # runner-level preprocessor forwarded
    assert model.backbone.layer2[0].conv1.stride == (2, 2)


def test_bad_patterns_refused():
    net = nn.Sequential(nn.Conv2d(4, 4, 1), nn.Linear(4, 4))
    with pytest.raises(ValueError, match="pattern '2' matches no Conv2d/Linear"):
        match_layers(net, ['0', '2'])
    with pytest.raises(ValueError, match='invalid regular expression'):
        match_layers(net, '(')
    with pytest.raises(ValueError, match='cannot replace the Linear'):
        replace_layers(net, [dict(pattern='1', layer=dict(type='mmext.LBCConv2d'))])
    with pytest.raises(ValueError, match=r'"replace\[0\]" must be dict'):
        replace_layers(net, [dict(layer=dict(type='mmext.LBCConv2d'))])


def test_plain_model_cfg_strips_mmext_layers():
    cfg = dict(type='mmext.CompressedModel', model=_classifier(), replace=[])
    assert plain_model_cfg(cfg)['type'] == 'ImageClassifier'
    conv_cfg = _classifier()
    conv_cfg['backbone']['conv_cfg'] = dict(type='mmext.ReSTEConv2d')
    assert plain_model_cfg(conv_cfg)['backbone']['conv_cfg'] is None
