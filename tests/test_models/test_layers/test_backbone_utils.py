"""Tests of the arch / index checks and frozen-stage helpers shared by the backbones."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.models.layers.backbone_utils import (NO_CONVERTER, OFFICIAL_CONVERTERS,
                                                FrozenStagesMixin, PretrainedCheckMixin,
                                                StemStagesFinalConvMixin, check_stage_args,
                                                freeze_modules, is_pretrained,
                                                normalize_indices, resolve_arch, stage_modules)
from mmext.registry import MODELS

ARCHS = {
    'tiny': dict(embed_dims=8, depths=[1, 2], num_heads=[1, 2]),
    'small': dict(embed_dims=16, depths=[2, 2], num_heads=[2, 4]),
}


class _Net(StemStagesFinalConvMixin, nn.Module):
    """stem -> 2 stages -> final conv, with BN everywhere."""

    def __init__(self, out_indices, frozen_stages=-1, norm_eval=False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
        self.stages = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)) for _ in range(2)])
        self.final_conv = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
        self.num_outputs = 3
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze_stages()


def test_freeze_modules():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    freeze_modules([m])
    assert not m.training and not m[1].training
    assert all(not p.requires_grad for p in m.parameters())


def test_check_stage_args():
    assert check_stage_args(-1, -1, 4) == [3]
    assert check_stage_args((0, -2), 3, 4) == [0, 2]
    with pytest.raises(ValueError, match=r'"out_indices" must be in \[0, 4\), got 4'):
        check_stage_args((4, ), -1, 4)
    with pytest.raises(ValueError, match=r'"frozen_stages" must be in \[-1, 4\), got 4'):
        check_stage_args(3, 4, 4)


def test_resolve_arch_by_name_is_case_insensitive_copy():
    arch = resolve_arch('Tiny', ARCHS, ('embed_dims', 'depths', 'num_heads'))
    assert arch == ARCHS['tiny']
    arch['depths'].append(3)  # the caller may edit its copy ...
    assert ARCHS['tiny']['depths'] == [1, 2]  # ... the class-level settings stay intact


def test_resolve_arch_custom_dict():
    custom = dict(embed_dims=4, depths=[1], num_heads=[1], extra=True)
    assert resolve_arch(custom, ARCHS, ('embed_dims', 'depths'), ('depths', 'num_heads')) \
        == custom


@pytest.mark.parametrize('arch,error,match', [
    ('huge', ValueError, r'"arch" must be one of \[.small., .tiny.\] or a dict, got .huge.'),
    (dict(embed_dims=4, depths=[1]), ValueError,
     r'a custom "arch" must be a dict with keys \[.embed_dims., .depths., .num_heads.\]; '
     r'it misses keys \[.num_heads.\]'),
    (dict(embed_dims=4, depths=[1, 1], num_heads=[1]), ValueError,
     r'"arch.depths" \[1, 1\] and "arch.num_heads" \[1\] must have the same length'),
    ([8, [1], [1]], TypeError, r'"arch" must be a str or dict, got list'),
])
def test_resolve_arch_errors(arch, error, match):
    with pytest.raises(error, match=match):
        resolve_arch(arch, ARCHS, ('embed_dims', 'depths', 'num_heads'),
                     same_length=('depths', 'num_heads'))


def test_normalize_indices():
    assert normalize_indices(-1, 5) == [4]
    assert normalize_indices((0, -5, 4), 5) == [0, 0, 4]
    with pytest.raises(ValueError, match=r'"out_indices" must be in \[0, 5\), got 5'):
        normalize_indices([5], 5)
    with pytest.raises(ValueError, match=r'"prune_layers" must be in \[0, 5\), got -6 '
                       r'\(negative values count from the end, down to -5\)'):
        normalize_indices([-6], 5, name='prune_layers')


def test_stage_modules():
    net = nn.Module()
    net.stages = nn.ModuleList([nn.Identity(), nn.Identity(), nn.Identity()])
    net.out_indices = [1, 2]
    net.norm1, net.norm2 = nn.LayerNorm(2), nn.LayerNorm(3)
    assert stage_modules(net, range(2)) == [net.stages[0], net.stages[1], net.norm1]
    assert stage_modules(net, []) == []


def test_forward_matches_reference():
    torch.manual_seed(0)
    net = _Net(out_indices=[0, 2]).eval()
    x = torch.randn(2, 1, 5, 5)
    s0 = net.stages[0](net.stem(x))
    ref_final = net.final_conv(net.stages[1](s0))
    outs = net(x)
    assert len(outs) == 2
    assert torch.equal(outs[0], s0) and torch.equal(outs[1], ref_final)


def test_train_keeps_frozen_stages_and_norm_eval():
    net = _Net(out_indices=[2], frozen_stages=1).train()
    for m in (net.stem, net.stages[0]):
        assert not m.training and all(not p.requires_grad for p in m.parameters())
    assert net.stages[1].training and all(p.requires_grad for p in net.stages[1].parameters())
    net = _Net(out_indices=[2], norm_eval=True).train()
    assert all(not m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert net.stages[1][0].training
    net.eval()
    assert not net.training
    assert issubclass(_Net, FrozenStagesMixin)


class _Checked(PretrainedCheckMixin, BaseModule):
    """Ten 2x2 linears (20 tensors) and a random-init step that a pretrained load must win."""

    def __init__(self, depth=10, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.layers = nn.Sequential(*[nn.Linear(2, 2) for _ in range(depth)])

    def init_weights(self):
        super().init_weights()
        if not is_pretrained(self.init_cfg):
            nn.init.zeros_(self.layers[0].weight)


def _pretrained(path, **kwargs):
    return dict(type='Pretrained', checkpoint=str(path), **kwargs)


@pytest.mark.parametrize('wrap', [lambda sd: sd, lambda sd: {'state_dict': sd},
                                  lambda sd: {'model': sd, 'epoch': 3}])
def test_pretrained_check_loads_fitting_checkpoint(wrap, tmp_path):
    src = _Checked()
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    torch.save(wrap(state), tmp_path / 'ckpt.pth')
    dst = _Checked(init_cfg=[dict(type='Constant', layer='Linear', val=3.),
                             _pretrained(tmp_path / 'ckpt.pth', prefix='backbone.')])
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    assert isinstance(dst.init_cfg, list) and len(dst.init_cfg) == 2  # restored


def test_pretrained_check_tolerates_a_few_missing_keys(tmp_path):
    # 18 of 20 tensors (90%), e.g. output norms a classifier does not have
    src = _Checked()
    state = src.state_dict()
    del state['layers.9.weight'], state['layers.9.bias']
    torch.save(state, tmp_path / 'ckpt.pth')
    dst = _Checked(init_cfg=_pretrained(tmp_path / 'ckpt.pth'))
    dst.init_weights()
    assert torch.equal(dst.layers[0].weight, src.layers[0].weight)


@pytest.mark.parametrize('ckpt_depth,message', [
    (8, '16 of its 20 tensors found'),  # a shallower model: our last blocks would stay random
    (12, '20 of the 24 checkpoint tensors used'),  # a deeper one: its last blocks unused
])
def test_pretrained_check_refuses_other_depth(ckpt_depth, message, tmp_path):
    torch.save(_Checked(ckpt_depth).state_dict(), tmp_path / 'ckpt.pth')
    dst = _Checked(init_cfg=_pretrained(tmp_path / 'ckpt.pth'))
    with pytest.raises(ValueError, match=message):
        dst.init_weights()
    assert not dst.is_init


def test_pretrained_check_error_names_prefix_and_converter(tmp_path):
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in _Checked().state_dict().items()}},
               tmp_path / 'ckpt.pth')
    with pytest.raises(ValueError, match="add prefix='backbone.'.*written by mmext"):
        _Checked(init_cfg=_pretrained(tmp_path / 'ckpt.pth')).init_weights()

    class DilateFormer(_Checked):  # the hint follows the class name
        pass

    with pytest.raises(ValueError, match='python tools/model_converters/dilateformer_to_mmext'):
        DilateFormer(init_cfg=_pretrained(tmp_path / 'ckpt.pth', prefix='head.')).init_weights()


def test_every_backbone_checks_pretrained_and_has_a_hint():
    import mmext.models  # noqa: F401  (registers the backbones)
    found = {name for name, cls in MODELS.module_dict.items()
             if isinstance(cls, type) and issubclass(cls, BaseBackbone)}
    assert found == set(OFFICIAL_CONVERTERS) | set(NO_CONVERTER)
    for name in found:
        assert issubclass(MODELS.get(name), PretrainedCheckMixin), name
