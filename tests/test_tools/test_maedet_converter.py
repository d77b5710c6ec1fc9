"""tools/model_converters/maedet_to_mmext.py: an official-layout MAE-DET detector converts exactly.

The reference below has the key names, nesting and forward of the official GFLV2 detectors of
alibaba/lightweight-neural-architecture-search (``MadNas`` -> ``body`` = ``CnnNet`` of
``ConvKXBNRELU`` / ``SuperResK1KXK1`` blocks, ``tinynas/deploy/cnnnet``; the head of
implus/GFocalV2's ``GFocalHead``; the FPN is mmdet's, whose 2.x keys are the same), saved as
mmdet 2.x saves a checkpoint.
"""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from mmdet.models.necks import FPN
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from _converter_checks import (REPO, converter_error, load_converter, randomize_,
                               run_converter)
from mmext.models.backbones.maedet import MAEDet

# A tiny MAE-DET in the official format: stem and three super-blocks (2, 3, 1 units)
TINY = [
    {'class': 'ConvKXBNRELU', 'in': 3, 'out': 8, 's': 2, 'k': 3},
    {'class': 'SuperResK1KXK1', 'in': 8, 'out': 16, 's': 2, 'k': 3, 'L': 2, 'btn': 8},
    {'class': 'SuperResK1KXK1', 'in': 16, 'out': 24, 's': 2, 'k': 5, 'L': 3, 'btn': 12},
    {'class': 'SuperResK1KXK1', 'in': 24, 'out': 32, 's': 2, 'k': 3, 'L': 1, 'btn': 16},
]
# configs/detection/models/maedet_{s,m,l}.txt of the official repository: (stem out, [(out, k,
# L, btn)]), every stride 2; FPN / head width of maedet_*_6x_lr0.02.py
OFFICIAL = {
    's': ((32, [(48, 5, 2, 32), (272, 3, 4, 120), (1024, 5, 10, 80), (2048, 3, 10, 240)]), 192),
    'm': ((64, [(120, 3, 2, 64), (512, 5, 10, 72), (1632, 5, 10, 112), (2048, 5, 8, 184)]), 256),
    'l': ((80, [(144, 3, 2, 80), (608, 5, 12, 88), (1912, 5, 12, 136), (2400, 5, 10, 220)]), 256),
}
SCRIPT = 'maedet_to_mmext'


def official_structure(stem, blocks):
    structure = [{'class': 'ConvKXBNRELU', 'in': 3, 'out': stem, 's': 2, 'k': 3}]
    for out, k, depth, btn in blocks:
        structure.append({'class': 'SuperResK1KXK1', 'in': structure[-1]['out'], 'out': out,
                          's': 2, 'k': k, 'L': depth, 'btn': btn})
    return structure


class ConvKXBN(nn.Module):

    def __init__(self, cin, cout, k, s=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, k, s, (k - 1) // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn1(self.conv1(x))


class ConvKXBNRELU(ConvKXBN):

    def forward(self, x):
        return torch.relu(super().forward(x))


class ResK1KXK1(nn.Module):

    def __init__(self, cin, cout, btn, k, s, force_resproj):
        super().__init__()
        self.conv1 = ConvKXBN(cin, btn, 1)
        self.conv2 = ConvKXBN(btn, btn, k, s)
        self.conv3 = ConvKXBN(btn, cout, 1)
        self.residual_downsample = nn.AvgPool2d(2, 2) if s == 2 else nn.Identity()
        self.residual_proj = ConvKXBN(cin, cout, 1) if cin != cout or force_resproj \
            else nn.Identity()

    def forward(self, x):
        out = self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x)))))
        return torch.relu(out + self.residual_proj(self.residual_downsample(x)))


class SuperResK1KXK1(nn.Module):

    def __init__(self, info):
        super().__init__()
        self.block_list = nn.ModuleList([
            ResK1KXK1(info['in'] if i == 0 else info['out'], info['out'], info['btn'], info['k'],
                      info['s'] if i == 0 else 1, force_resproj=i == 0)
            for i in range(info['L'])])

    def forward(self, x):
        for unit in self.block_list:
            x = unit(x)
        return x


class CnnNet(nn.Module):
    """Detection mode, ``out_indices=(1, 2, ...)``: the output of every super-block."""

    def __init__(self, structure):
        super().__init__()
        stem = structure[0]
        self.block_list = nn.ModuleList(
            [ConvKXBNRELU(stem['in'], stem['out'], stem['k'], stem['s'])]
            + [SuperResK1KXK1(info) for info in structure[1:]])

    def forward(self, x):
        outs = []
        for i, block in enumerate(self.block_list):
            x = block(x)
            if i > 0:
                outs.append(x)
        return outs


class MadNas(nn.Module):

    def __init__(self, structure):
        super().__init__()
        self.body = CnnNet(structure)

    def forward(self, x):
        return self.body(x)


class Integral(nn.Module):

    def __init__(self, reg_max=16):
        super().__init__()
        self.register_buffer('project', torch.linspace(0, reg_max, reg_max + 1))


class GFocalHead(nn.Module):
    """GFocalV2's head layers; COCO with ``use_sigmoid=False`` gives 81 class outputs."""

    def __init__(self, channels, num_classes=80, reg_max=16, reg_topk=4, reg_channels=64):
        super().__init__()
        gn = dict(type='GN', num_groups=32, requires_grad=True)
        self.cls_convs = nn.ModuleList(
            [ConvModule(channels, channels, 3, padding=1, norm_cfg=gn) for _ in range(4)])
        self.reg_convs = nn.ModuleList(
            [ConvModule(channels, channels, 3, padding=1, norm_cfg=gn) for _ in range(4)])
        self.gfl_cls = nn.Conv2d(channels, num_classes + 1, 3, padding=1)
        self.gfl_reg = nn.Conv2d(channels, 4 * (reg_max + 1), 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in range(5)])
        self.reg_conf = nn.Sequential(nn.Conv2d(4 * (reg_topk + 1), reg_channels, 1), nn.ReLU(),
                                      nn.Conv2d(reg_channels, 1, 1), nn.Sigmoid())
        self.integral = Integral(reg_max)

    def cls_tower(self, x):
        for conv in self.cls_convs:
            x = conv(x)
        return x

    def bbox_pred(self, x, scale):
        for conv in self.reg_convs:
            x = conv(x)
        return scale(self.gfl_reg(x)).float()


class OfficialGFL(nn.Module):

    def __init__(self, structure, channels):
        super().__init__()
        self.backbone = MadNas(structure)
        self.neck = FPN([b['out'] for b in structure[1:]], channels, start_level=1,
                        add_extra_convs='on_output', num_outs=5)
        self.bbox_head = GFocalHead(channels)

    def forward(self, x):
        """Backbone maps, FPN maps, box distributions (per level) and class towers."""
        feats = self.backbone(x)
        fpn = self.neck(feats)
        return (feats, fpn, [self.bbox_head.bbox_pred(f, s) for f, s in
                             zip(fpn, self.bbox_head.scales)],
                [self.bbox_head.cls_tower(f) for f in fpn])


def build_detector(variant='s', **model):
    """The model of configs/maedet/gfl_maedet-<variant>_fpn_8xb2-ms-73e_coco.py."""
    config = f'configs/maedet/gfl_maedet-{variant}_fpn_8xb2-ms-73e_coco.py'
    cfg = Config.fromfile(str(REPO / config))
    for part, overrides in model.items():
        cfg.model[part].update(overrides)
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    return MODELS.build(cfg.model)


def save_mmdet2(state_dict, path):
    """As mmcv 1.x ``save_checkpoint`` writes an mmdet 2.x run's ``latest.pth``."""
    torch.save({'meta': {'mmdet_version': '2.6.0', 'epoch': 73, 'iter': 537000,
                         'CLASSES': ('person', )},
                'state_dict': state_dict, 'optimizer': {'state': {}, 'param_groups': []}}, path)
    return path


def tiny_reference():
    reference = randomize_(OfficialGFL(TINY, 32)).eval()
    reference.bbox_head.integral.project.copy_(torch.linspace(0, 16, 17))
    return reference


def test_official_tiny_detector_converts_to_equal_outputs(tmp_path, capsys):
    reference = tiny_reference()
    src = save_mmdet2(reference.state_dict(), tmp_path / 'latest.pth')
    ckpt = run_converter('maedet', src, tmp_path / 'maedet_mmext.pth')
    printed = capsys.readouterr().out
    assert ckpt['meta']['variant'] == 'maedet-custom'
    assert 'dropped 6 GFLV2-only tensors' in printed and 'bbox_head.reg_conf.2.bias' in printed
    assert f'"arch" of mmext.MAEDet: {TINY}' in printed
    state_dict = ckpt['state_dict']
    n_head = sum(k.startswith('bbox_head.') for k in reference.state_dict())
    assert sum(k.startswith('bbox_head.') for k in state_dict) == n_head - 6
    assert not any('gfl_cls' in k or 'reg_conf' in k for k in state_dict)

    # the backbone alone, strictly, from the structure as the official format gives it
    backbone = MAEDet(arch=str(TINY), out_indices=(0, 1, 2))
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in state_dict.items()
                              if k.startswith('backbone.')}, strict=True)
    # the whole detector of our config: only the two GFLV2-specific layers stay initialised
    detector = build_detector(
        backbone=dict(arch=str(TINY), out_indices=(0, 1, 2), norm_cfg=dict(type='BN')),
        neck=dict(in_channels=[16, 24, 32], out_channels=32),
        bbox_head=dict(in_channels=32, feat_channels=32))
    result = detector.load_state_dict(state_dict, strict=False)
    assert sorted(result.missing_keys) == ['bbox_head.gfl_cls.bias', 'bbox_head.gfl_cls.weight']
    assert result.unexpected_keys == []

    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats, fpn, bbox_preds, cls_towers = reference(x)
        ours = backbone.eval()(x)
        detector.eval()
        our_fpn = detector.neck(detector.backbone(x))
        _, our_bbox_preds = detector.bbox_head(our_fpn)
        our_towers = []
        for f in our_fpn:
            for conv in detector.bbox_head.cls_convs:
                f = conv(f)
            our_towers.append(f)
    assert len(ours) == len(feats) == 3
    for mine, theirs in zip([*ours, *our_fpn, *our_bbox_preds, *our_towers],
                            [*feats, *fpn, *bbox_preds, *cls_towers]):
        assert theirs.std() > 1e-2, 'reference output nearly constant: the check would be weak'
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5 * theirs.abs().max())

    # a wrong mapping shows: the same file with the first unit's BN statistics swapped
    swapped = dict(state_dict)
    mean = 'backbone.stages.0.0.branch.1.bn.running_mean'
    var = 'backbone.stages.0.0.branch.1.bn.running_var'
    swapped[mean], swapped[var] = state_dict[var], state_dict[mean]
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in swapped.items()
                              if k.startswith('backbone.')}, strict=True)
    with torch.no_grad():
        assert not torch.allclose(backbone(x)[0], feats[0], rtol=1e-3, atol=1e-3)


def test_published_layouts_give_the_variant_and_fit_our_configs():
    script = load_converter(SCRIPT)
    for variant, ((stem, blocks), channels) in OFFICIAL.items():
        with torch.device('meta'):
            official = OfficialGFL(official_structure(stem, blocks), channels).state_dict()
            ours = build_detector(variant).state_dict()
        state_dict, detected, structure, dropped = script.convert_detector(official)
        assert detected == f'maedet-{variant}'
        assert structure == official_structure(stem, blocks)
        assert sorted(dropped) == sorted(f'bbox_head.{m}.{n}' for m in
                                         ('gfl_cls', 'reg_conf.0', 'reg_conf.2')
                                         for n in ('weight', 'bias'))
        expected = {k: v.shape for k, v in ours.items() if not k.startswith('bbox_head.gfl_cls')}
        assert {k: v.shape for k, v in state_dict.items()} == expected


def test_backbone_only_checkpoint_converts():
    """A ``MadNas`` state dict under ``backbone.`` without neck and head (DDP ``module.``
    prefix stripped by the shared loader)."""
    script = load_converter(SCRIPT)
    backbone = {f'backbone.{k}': v for k, v in randomize_(MadNas(TINY)).state_dict().items()}
    state_dict, variant = script.convert(backbone)
    assert variant == 'maedet-custom'
    assert len(state_dict) == len(backbone)
    assert MAEDet(arch=str(TINY), out_indices=(0, 1, 2)).load_state_dict(
        {k[len('backbone.'):]: v for k, v in state_dict.items()}, strict=True)


def test_unexpected_or_missing_keys_are_named(tmp_path):
    script = load_converter(SCRIPT)
    state = OfficialGFL(TINY, 32).state_dict()

    def fails(edit, message):
        bad = dict(state)
        edit(bad)
        try:
            script.convert(bad)
        except script.ConversionError as err:
            assert message in str(err), str(err)
        else:
            raise AssertionError(f'no ConversionError for {message}')

    unit = 'backbone.body.block_list.2.block_list.1.'
    fails(lambda s: s.update({f'{unit}conv4.conv1.weight': torch.zeros(1)}),
          f'"{unit}conv4.conv1.weight"')
    # a projection in a later unit: the official code has none there
    fails(lambda s: s.update({f'{unit}residual_proj.conv1.weight': torch.zeros(1)}),
          f'"{unit}residual_proj.conv1.weight"')
    fails(lambda s: s.update({'bbox_head.atss_centerness.weight': torch.zeros(1)}),
          '"bbox_head.atss_centerness.weight"')
    fails(lambda s: s.pop('backbone.body.block_list.1.block_list.0.residual_proj.bn1.weight'),
          '"backbone.body.block_list.1.block_list.0.residual_proj.bn1.weight" not found')
    fails(lambda s: s.update({'backbone.body.block_list.1.block_list.0.conv1.conv1.weight':
                              torch.zeros(8, 5, 1, 1)}),
          '"backbone.body.block_list.1.block_list.0.conv1.conv1.weight" has 5 input channels')
    fails(lambda s: [s.pop(k) for k in list(s) if k.startswith('backbone.body.block_list.2.')],
          'super-blocks under "backbone.body.block_list." are not numbered 1, 2, ...: [1, 3]')
    # an mmdet ResNet detector: the stem is missing
    fails(lambda s: (s.clear(), s.update({'backbone.conv1.weight': torch.zeros(1)})),
          '"backbone.conv1.weight"')

    # the command line stops with the message and writes nothing
    src = save_mmdet2(dict(state, **{'neck.lateral_convs.0.bn.weight': torch.zeros(32)}),
                      tmp_path / 'latest.pth')
    message = converter_error('maedet', src, tmp_path / 'out.pth')
    assert '"neck.lateral_convs.0.bn.weight"' in message
