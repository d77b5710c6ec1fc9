"""tools/model_converters/solider_to_mmext.py: an official SOLIDER file gives our backbone the
official feature maps at every semantic weight.

The reference below rebuilds the official SOLIDER Swin (tinyvision/SOLIDER ``swin_transformer.py``,
the same file in SOLIDER-REID) in its state-dict layout and forward: mmseg-style Swin (corner
padding to the patch size, windows padded to whole windows and always shifted in odd blocks,
unfold-ordered patch merging at the end of stages 0-2, output norms ``norm0``-``norm3``) and the
semantic controller: ``w = [lambda, 1 - lambda]``, after stage i (and its patch merging)
``x = x * softplus(semantic_embed_w[i](w)) + semantic_embed_b[i](w)``, outputs taken before.
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _converter_checks import (REPO, assert_logits_close, converter_error, load_converter,
                               randomize_, run_converter)
from _converter_checks_swin import (SwinWindowAttention, check_dense_config_loads,
                                    window_partition, window_reverse)
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

CONFIGS = REPO / 'configs' / 'solider'
CLS_CONFIG = CONFIGS / 'solider-swin-tiny_1xb64-120e_market1501-384x128.py'
DET_CONFIG = CONFIGS / 'mask-rcnn_solider-swin-t-p4-w7_fpn_1x_coco.py'
SEG_CONFIG = CONFIGS / 'upernet_solider-swin-t_8xb2-160k_ade20k-512x512.py'
TOOL = load_converter('solider_to_mmext')
ARCHS = {'tiny': (96, (2, 2, 6, 2), (3, 6, 12, 24)), 'small': (96, (2, 2, 18, 2), (3, 6, 12, 24)),
         'base': (128, (2, 2, 18, 2), (4, 8, 16, 32))}


def pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """(B, C, H, W) zero-padded right / bottom to multiples of ``multiple`` ('corner')."""
    return F.pad(x, (0, -x.shape[3] % multiple, 0, -x.shape[2] % multiple))


class ShiftWindowMSA(nn.Module):
    """mmseg's: pad to whole windows, roll, -100 mask over the padded map, crop back."""

    def __init__(self, dim: int, heads: int, window: int = 7, shift: bool = False):
        super().__init__()
        self.window, self.shift = window, window // 2 if shift else 0
        self.w_msa = SwinWindowAttention(dim, heads, window)

    def forward(self, x, hw):
        B, L, C = x.shape
        H, W = hw
        w, s = self.window, self.shift
        x = pad_to(x.view(B, H, W, C).permute(0, 3, 1, 2), w).permute(0, 2, 3, 1)
        Hp, Wp = x.shape[1:3]
        mask = None
        if s:
            x = torch.roll(x, (-s, -s), (1, 2))
            img = torch.zeros(1, Hp, Wp, 1)
            cuts = (slice(0, -w), slice(-w, -s), slice(-s, None))
            for n, (h, ww) in enumerate((h, ww) for h in cuts for ww in cuts):
                img[:, h, ww] = n
            ids = window_partition(img, w).squeeze(-1)
            mask = (ids[:, None, :] - ids[:, :, None]).ne(0).to(x.dtype) * -100.
        x = window_reverse(self.w_msa(window_partition(x, w), mask), w, Hp, Wp)
        if s:
            x = torch.roll(x, (s, s), (1, 2))
        return x[:, :H, :W].reshape(B, L, C)


class FFN(nn.Module):
    """mmcv's FFN key layout: ``layers.0.0`` (fc1), GELU, ``layers.1`` (fc2)."""

    def __init__(self, dim: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(0.)),
            nn.Linear(4 * dim, dim), nn.Dropout(0.))

    def forward(self, x, identity):
        return identity + self.layers(x)


class Block(nn.Module):

    def __init__(self, dim, heads, shift):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftWindowMSA(dim, heads, shift=shift)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim)

    def forward(self, x, hw):
        x = x + self.attn(self.norm1(x), hw)
        return self.ffn(self.norm2(x), identity=x)


class PatchMerging(nn.Module):
    """mmcv's unfold merging: channel ``c * 4 + kh * 2 + kw``."""

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x, hw):
        B, L, C = x.shape
        x = pad_to(x.view(B, *hw, C).permute(0, 3, 1, 2), 2)
        hw = (x.shape[2] // 2, x.shape[3] // 2)
        x = F.unfold(x, 2, stride=2).transpose(1, 2)
        return self.reduction(self.norm(x)), hw


class Stage(nn.Module):

    def __init__(self, dim, depth, heads, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, j % 2 == 1) for j in range(depth))
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x, hw):
        for blk in self.blocks:
            x = blk(x, hw)
        if self.downsample is None:
            return x, hw, x, hw
        x_down, hw_down = self.downsample(x, hw)
        return x_down, hw_down, x, hw


class PatchEmbed(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.projection = nn.Conv2d(3, dim, 4, 4)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.projection(pad_to(x, 4))
        return self.norm(x.flatten(2).transpose(1, 2)), x.shape[2:]


class OfficialSOLIDER(nn.Module):
    """The official ``SwinTransformer(semantic_weight >= 0)``; ``forward(x, w)`` returns the
    four normed stage maps (``w``: (B, 2) rows ``[lambda, 1 - lambda]``)."""

    def __init__(self, arch: str = 'tiny'):
        super().__init__()
        dim, depths, heads = ARCHS[arch]
        self.patch_embed = PatchEmbed(dim)
        self.stages = nn.ModuleList(
            Stage(dim * 2**i, d, h, i < 3) for i, (d, h) in enumerate(zip(depths, heads)))
        self.widths = [dim * 2**i for i in range(4)]
        for i, c in enumerate(self.widths):
            self.add_module(f'norm{i}', nn.LayerNorm(c))
        self.semantic_embed_w = nn.ModuleList(
            nn.Linear(2, self.widths[min(i + 1, 3)]) for i in range(4))
        self.semantic_embed_b = nn.ModuleList(
            nn.Linear(2, self.widths[min(i + 1, 3)]) for i in range(4))

    def forward(self, x, w):
        x, hw = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw, out, out_hw = stage(x, hw)
            sw = self.semantic_embed_w[i](w).unsqueeze(1)
            sb = self.semantic_embed_b[i](w).unsqueeze(1)
            x = x * F.softplus(sw) + sb
            out = getattr(self, f'norm{i}')(out)
            outs.append(out.view(-1, *out_hw, self.widths[i]).permute(0, 3, 1, 2))
        return outs


def build_backbone(config=SEG_CONFIG, scope='mmseg', **overrides):
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.update(overrides)
    init_default_scope(scope)
    return MODELS.build(cfg.model.backbone)


def lam(value: float, batch: int = 2) -> torch.Tensor:
    return torch.tensor([[value, 1 - value]], dtype=torch.float64).expand(batch, 2)


@pytest.fixture(scope='module')
def official():
    return randomize_(OfficialSOLIDER()).double().eval()


def save_teacher(official: nn.Module, path):
    """``convert_model.py``'s file: the DINO teacher (backbone + projection head)."""
    state = {f'backbone.{k}': v for k, v in official.state_dict().items()}
    state.update({'head.mlp.0.weight': torch.randn(8, 768),
                  'head.last_layer.weight_g': torch.randn(16, 1)})
    torch.save(state, path)
    return path


@pytest.fixture(scope='module')
def converted(official, tmp_path_factory):
    """The teacher file as ``convert_model.py`` writes it, converted by the command line."""
    folder = tmp_path_factory.mktemp('solider')
    src = save_teacher(official, folder / 'swin_tiny_tea.pth')
    ckpt = run_converter('solider', src, folder / 'converted.pth')
    assert ckpt['meta']['variant'] == 'solider-swin-tiny'
    return folder / 'converted.pth'


@pytest.mark.parametrize('size,weights', [((256, 128), (0., 0.2, 1.)), ((224, 224), (0.5, ))])
def test_teacher_gives_official_maps_at_every_weight(official, converted, size, weights):
    ours = build_backbone()
    state = torch.load(converted)['state_dict']
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()}, strict=True)
    ours.double().eval()
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = {}
    with torch.no_grad():
        for value in weights:
            want = official(x, lam(value, 1))
            got[value] = ours(x, semantic_weight=value)
            assert len(got[value]) == 4
            for g, w in zip(got[value], want):
                assert_logits_close(g, w)
    if len(weights) > 1:
        # stage 0 comes before any modulation; the later stages follow the weight
        assert torch.equal(got[0.][0], got[1.][0])
        assert not torch.allclose(got[0.][3], got[1.][3])


def test_training_file_and_configs(official, converted, tmp_path):
    """The DINO training file (teacher under 'teacher'); the detection and segmentation configs
    take every tensor, the classifier config all but the unused output norms."""
    teacher = torch.load(save_teacher(official, tmp_path / 't.pth'))
    src = tmp_path / 'checkpoint.pth'
    torch.save({'teacher': teacher, 'student': {'x': torch.zeros(1)}, 'epoch': 100}, src)
    dst = tmp_path / 'converted.pth'
    run_converter('solider', src, dst)
    assert torch.load(dst)['state_dict'].keys() == torch.load(converted)['state_dict'].keys()
    check_dense_config_loads(DET_CONFIG, 'mmdet', dst)
    check_dense_config_loads(SEG_CONFIG, 'mmseg', dst)
    cls = build_backbone(CLS_CONFIG, 'mmpretrain', init_cfg=dict(
        type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    cls.init_weights()
    converted = torch.load(dst)['state_dict']
    for key, value in cls.state_dict().items():
        assert torch.equal(value, converted['backbone.' + key].to(value.dtype)), key


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_params_equal_official(arch):
    ref = OfficialSOLIDER(arch)
    ours = build_backbone(arch=arch)
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in ours.parameters())
    state, variant = TOOL.convert({f'backbone.{k}': v for k, v in ref.state_dict().items()})
    assert variant == f'solider-swin-{arch}'
    assert {k[len('backbone.'):]: v.shape for k, v in state.items()} == \
        {k: v.shape for k, v in ours.state_dict().items()}


def test_flops_equal_official():
    flops = []
    x = torch.randn(1, 3, 128, 64)
    for model, args in ((OfficialSOLIDER().eval(), (x, lam(1., 1).float())),
                        (build_backbone().eval(), (x, ))):
        fa = FlopAnalyzer(model, args)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        flops.append(fa.total())
    # the official forward also modulates the unused output of the last stage
    extra = 2 * 768 * 2 + 2 * 768 * 4 * 2  # two Linear(2, 768) and a scale of 4x2 tokens
    assert 0 <= flops[0] - flops[1] <= extra, flops


def test_refuses_other_layouts(official, tmp_path):
    src = {f'backbone.{k}': v for k, v in official.state_dict().items()}
    with pytest.raises(TOOL.ConversionError, match='stages.0.blocks.0.extra'):
        TOOL.convert({**src, 'backbone.stages.0.blocks.0.extra': torch.zeros(1)})
    plain = {k: v for k, v in src.items() if 'semantic_embed' not in k}
    with pytest.raises(TOOL.ConversionError, match='semantic_embed_w.0.weight'):
        TOOL.convert(plain)  # a Swin trained without the semantic controller
    wider = {**src, 'backbone.patch_embed.projection.weight': torch.zeros(64, 3, 4, 4)}
    with pytest.raises(TOOL.ConversionError, match='none of'):
        TOOL.convert(wider)
    other = tmp_path / 'other.pth'
    torch.save({'model': {'fc.weight': torch.zeros(2, 2)}}, other)
    assert 'patch_embed.projection.weight' in converter_error('solider', other,
                                                              tmp_path / 'out.pth')
