"""tools/model_converters/zennet_to_mmext.py: an official-layout ZenNet converts exactly."""
import pytest
import torch
import torch.nn as nn

from _converter_checks_cnn import (NetBlock, PlainNetReference, assert_same_logits,
                                   convert_and_compare, load_converter, randomized)

# Reference in the layout of idstcv/ZenNAS (ZenNet/masternet.py, PlainNet/*): nested
# ``module_list`` wrappers, SE after the depthwise conv, a conv-with-bias + BN ``proj`` shortcut
# (always in a stage's first unit), every BatchNorm with eps 1e-3. Structure of
# zennet_imagenet1k_flops400M_res224.txt: (expansion, in, out, stride, bottleneck, sub-layers),
# kernel 7.
ZENNET_400M = [(1, 16, 40, 2, 40, 1), (1, 40, 64, 2, 64, 1), (4, 64, 96, 2, 96, 5),
               (2, 96, 224, 2, 224, 5)]


class Seq(nn.Module):
    """A PlainNet container: its blocks in ``module_list``."""

    def __init__(self, blocks):
        super().__init__()
        self.module_list = nn.ModuleList(blocks)

    def forward(self, x):
        for block in self.module_list:
            x = block(x)
        return x


class SE(NetBlock):

    def __init__(self, c):
        s = max(1, int(round(c * 0.25)))
        super().__init__(nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, s, 1, bias=False), nn.BatchNorm2d(s), nn.ReLU(),
            nn.Conv2d(s, c, 1, bias=False), nn.BatchNorm2d(c), nn.Sigmoid()))

    def forward(self, x):
        return x * self.netblock(x)


class ResBlock(Seq):

    def __init__(self, cin, cout, dw, stride, proj):
        super().__init__([
            NetBlock(nn.Conv2d(cin, dw, 1, bias=False)), NetBlock(nn.BatchNorm2d(dw)), nn.ReLU(),
            NetBlock(nn.Conv2d(dw, dw, 7, stride, 3, groups=dw, bias=False)),
            NetBlock(nn.BatchNorm2d(dw)), nn.ReLU(), SE(dw),
            NetBlock(nn.Conv2d(dw, cout, 1, bias=False)), NetBlock(nn.BatchNorm2d(cout))])
        self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout)) \
            if proj or stride > 1 or cin != cout else None

    def forward(self, x):
        return super().forward(x) + (x if self.proj is None else self.proj(x))


def smart_round(x, base=8):
    return max(base, round(x / base) * base)


def idw_stage(expansion, cin, cout, stride, btn, sub_layers):
    units = []
    for i in range(sub_layers):
        units += [ResBlock(cin if i == 0 else cout, btn, smart_round(btn * expansion),
                           stride if i == 0 else 1, proj=i == 0), nn.ReLU(),
                  ResBlock(btn, cout, smart_round(cout * expansion), 1, proj=False), nn.ReLU()]
    return Seq(units)


class OfficialZenNet(PlainNetReference):

    def __init__(self, structure=ZENNET_400M, stem=16, last=2048):
        super().__init__()
        self.module_list = nn.ModuleList([
            Seq([NetBlock(nn.Conv2d(3, stem, 3, 2, 1, bias=False)), NetBlock(nn.BatchNorm2d(stem)),
                 nn.ReLU()]),
            *[idw_stage(*s) for s in structure],
            Seq([NetBlock(nn.Conv2d(structure[-1][2], last, 1, bias=False)),
                 NetBlock(nn.BatchNorm2d(last)), nn.ReLU()])
        ])
        self.fc_linear = NetBlock(nn.Linear(last, 1000))
        for m in self.modules():  # as masternet.PlainNet
            if isinstance(m, nn.BatchNorm2d):
                m.eps = 1e-3



@pytest.fixture(scope='module')
def reference():
    return randomized(OfficialZenNet())


def test_official_zennet_400m_converts_to_equal_logits(tmp_path, reference):
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    # published as a bare state dict (ZenNet.get_ZenNet also accepts {'state_dict': ...})
    model, report = convert_and_compare(tmp_path, 'zennet_to_mmext', reference, '',
                                        'zennet/zennet-flops400m-se_8xb64-480e_in1k.py', x)
    assert report.startswith('zennet-flops400m-se: mapped')
    # with PyTorch's default BatchNorm eps (ours before) the same weights give other logits
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-5
    with pytest.raises(AssertionError, match='relative logit error'):
        assert_same_logits(model, reference, x)


def test_wrong_checkpoint_names_first_unplaced_key(reference):
    script = load_converter('zennet_to_mmext')
    state_dict = reference.state_dict()
    bad = dict(state_dict, **{'module_list.2.module_list.0.module_list.6.netblock.9.weight':
                              torch.zeros(1)})
    with pytest.raises(script.ConversionError, match=r'module_list\.6\.netblock\.9\.weight'):
        script.convert(bad)
    with pytest.raises(script.ConversionError, match='"conv1.weight"'):
        script.convert({'conv1.weight': torch.zeros(8, 3, 3, 3)})
