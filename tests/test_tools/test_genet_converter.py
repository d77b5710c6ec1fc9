"""tools/model_converters/genet_to_mmext.py: an official-layout GENet converts exactly."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from _converter_checks_cnn import (NetBlock, PlainNetReference, convert_and_compare,
                                   load_converter, randomized)

# Reference in the layout of idstcv/GPU-Efficient-Networks GENet/__init__.py: ``module_list``
# of ConvKX / BN / RELU wrappers (``.netblock``) and SuperRes stages whose ``shortcut_list`` is
# registered before ``conv_list``. Structure of GENet_small.txt:
# (type, in, out, kernel, stride, expansion, sub-layers).
GENET_SMALL = [('XX', 13, 48, 3, 2, 1.0, 1), ('XX', 48, 48, 3, 2, 1.0, 3),
               ('BL', 48, 384, 3, 2, 0.25, 7), ('DW', 384, 560, 3, 2, 3.0, 2),
               ('DW', 560, 256, 3, 1, 3.0, 1)]


def conv_bn(cin, cout, k, stride=1, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU()] if relu else layers


class SuperRes(nn.Module):

    def __init__(self, kind, cin, cout, k, stride, expansion, sublayers):
        super().__init__()
        self.shortcut_list = nn.ModuleList()  # registered first, as the official
        self.conv_list = nn.ModuleList()
        for j in range(sublayers):
            c_in, s = (cin, stride) if j == 0 else (cout, 1)
            mid = int(round(cout * expansion))
            if kind == 'XX':
                layers = conv_bn(c_in, mid, k, s) + conv_bn(mid, cout, k, relu=False)
            else:
                layers = (conv_bn(c_in, mid, 1)
                          + conv_bn(mid, mid, k, s, groups=mid if kind == 'DW' else 1)
                          + conv_bn(mid, cout, 1, relu=False))
            self.conv_list.append(nn.Sequential(*layers))
            self.shortcut_list.append(
                nn.Sequential() if s == 1 and c_in == cout else nn.Sequential(
                    *conv_bn(c_in, cout, 1, s, relu=False)))

    def forward(self, x):
        for block, shortcut in zip(self.conv_list, self.shortcut_list):
            x = F.relu(block(x) + shortcut(x))
        return x


class OfficialGENet(PlainNetReference):

    def __init__(self, structure=GENET_SMALL, stem=13, last=1920):
        super().__init__()
        self.module_list = nn.ModuleList([
            NetBlock(nn.Conv2d(3, stem, 3, 2, 1, bias=False)), NetBlock(nn.BatchNorm2d(stem)), nn.ReLU(),
            *[SuperRes(*s) for s in structure],
            NetBlock(nn.Conv2d(structure[-1][2], last, 1, bias=False)), NetBlock(nn.BatchNorm2d(last)),
            nn.ReLU()
        ])
        self.fc_linear = nn.Linear(last, 1000)



@pytest.fixture(scope='module')
def reference():
    return randomized(OfficialGENet())


def test_official_genet_small_converts_to_equal_logits(tmp_path, reference):
    keys = list(reference.state_dict())
    # the key order that a positional mapping would get wrong
    assert keys.index('module_list.3.shortcut_list.0.0.weight') < \
        keys.index('module_list.3.conv_list.0.0.weight')
    x = torch.randn(2, 3, 192, 192, generator=torch.Generator().manual_seed(1))
    _, report = convert_and_compare(tmp_path, 'genet_to_mmext', reference, 'state_dict',
                                    'genet/genet-small_8xb64-480e_in1k-192px.py', x)
    assert report.startswith('genet-small: mapped')


def test_wrong_checkpoint_names_first_unplaced_key(reference):
    script = load_converter('genet_to_mmext')
    state_dict = reference.state_dict()
    bad = dict(state_dict, **{'module_list.5.conv_list.0.9.weight': torch.zeros(1)})
    with pytest.raises(script.ConversionError, match=r'module_list\.5\.conv_list\.0\.9\.weight'):
        script.convert(bad)
    with pytest.raises(script.ConversionError, match='"conv1.weight"'):
        script.convert({'conv1.weight': torch.zeros(8, 3, 3, 3)})
    # a structure that is no released GENet (one unit less in stage 1) has no config to load into
    fewer = {k: v for k, v in state_dict.items() if not k.startswith('module_list.4.conv_list.2')}
    with pytest.raises(script.ConversionError, match='GENet layout .* matches none'):
        script.convert(fewer)
