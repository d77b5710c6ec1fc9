import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.layers.channel_pruning import (apply_channel_masks, channel_masks_from_weights,
                                                 prune_channels, resize_layers,
                                                 resnet_channel_groups)


def _model_cfg(out_indices=(1, )):
    """A 2-stage bottleneck ResNet (ImageNet stem: 7x7 conv + max-pool) classifier."""
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50, num_stages=2, stem_channels=8, base_channels=8,
                      strides=(1, 2), dilations=(1, 1), out_indices=out_indices),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=64,
                  loss=dict(type='CrossEntropyLoss')))


def _build(cfg):
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    # non-trivial BN statistics, so that eval-mode outputs depend on them
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_bottleneck_groups():
    model = _build(_model_cfg())
    inner = resnet_channel_groups(model)
    # conv1 -> conv2 and conv2 -> conv3 of each of the 3 + 4 bottlenecks
    assert len(inner) == 14
    g = inner[1]
    assert g.producers == [('backbone.layer1.0.conv2', 'backbone.layer1.0.bn2')]
    assert g.consumers == ['backbone.layer1.0.conv3'] and g.size == 8
    streams = resnet_channel_groups(model, residual=True)[14:]
    assert [s.name for s in streams] == [
        'backbone.conv1', 'backbone.layer1.0.downsample.0', 'backbone.layer2.0.downsample.0']
    assert streams[0].consumers == ['backbone.layer1.0.conv1', 'backbone.layer1.0.downsample.0']
    assert [p for p, _ in streams[1].producers] == [
        'backbone.layer1.0.downsample.0', 'backbone.layer1.0.conv3', 'backbone.layer1.1.conv3',
        'backbone.layer1.2.conv3']
    assert streams[2].consumers[-1] == 'head.fc' and streams[2].size == 64


@pytest.mark.parametrize('residual', [False, True])
def test_pruned_network_equals_masked_network(residual):
    model = _build(_model_cfg())
    groups = resnet_channel_groups(model, residual=residual)
    gen = torch.Generator().manual_seed(1)
    masks = {g.name: torch.rand(g.size, generator=gen) < 0.6 for g in groups}
    for m in masks.values():
        m[0] = True  # no empty group
    apply_channel_masks(model, groups, masks)
    found = channel_masks_from_weights(model, groups)
    assert all(torch.equal(found[k], masks[k]) for k in masks)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
    small = copy.deepcopy(model)
    spec = prune_channels(small, groups, masks)
    with torch.no_grad():
        out = small(x, mode='tensor')
    assert torch.allclose(ref, out, atol=1e-5)
    n = lambda mdl: sum(p.numel() for p in mdl.parameters())  # noqa: E731
    assert n(small) < 0.8 * n(model)
    conv = small.backbone.layer1[0].conv2
    keep = int(masks['backbone.layer1.0.conv1'].sum())
    assert conv.in_channels == keep and spec['backbone.layer1.0.conv2'][0] == keep
    assert small.backbone.layer1[0].bn1.num_features == keep
    if residual:
        assert small.head.fc.in_features == int(masks['backbone.layer2.0.downsample.0'].sum())
    # the exported shapes rebuild the small network from its config
    from mmpretrain.registry import MODELS
    rebuilt = MODELS.build(dict(type='mmext.ChannelPrunedModel', model=_model_cfg(),
                                channels=spec)).eval()
    rebuilt.load_state_dict(small.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x, mode='tensor'), ref, atol=1e-5)


def test_bad_inputs_name_the_key():
    model = _build(_model_cfg())
    with pytest.raises(ValueError, match='"channels": the model has no module'):
        resize_layers(model, {'backbone.layer9.conv1': (4, 4)})
    with pytest.raises(ValueError, match='"channels": cannot resize'):
        resize_layers(model, {'backbone.layer1.0.conv1': (64, 4)})
    with pytest.raises(ValueError, match='"prune_residual".*out_indices'):
        resnet_channel_groups(_build(_model_cfg(out_indices=(0, 1))), residual=True)
    groups = resnet_channel_groups(model)
    masks = {g.name: torch.ones(g.size, dtype=torch.bool) for g in groups}
    masks[groups[0].name][:] = False
    with pytest.raises(ValueError, match='no channel left'):
        prune_channels(model, groups, masks)
