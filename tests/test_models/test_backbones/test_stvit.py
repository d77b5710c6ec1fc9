import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.backbones.stvit import (STViT, STViTDeiT, SemanticBlock,
                                          SemanticTokenGeneration, STViTRStage,
                                          WeightedCellPooling)

TINY = dict(embed_dims=16, depths=[1, 1, 6, 1], num_heads=[1, 2, 2, 4])


def test_published_params_swin_s():
    # Official STViT-R-Swin-S log: 49,625,518 parameters with the 768 -> 1000 fc head.
    with torch.device('meta'):
        model = STViT(arch='small')
    n = sum(p.numel() for p in model.parameters()) + 768 * 1000 + 1000
    assert abs(n - 49_625_518) / 49_625_518 < 0.02


def test_key_windows_reproduce_official_unfold():
    gen = SemanticTokenGeneration(8, 2, window=7, num_semantic=3, key_overlap=3)
    rows = gen._key_index(14, torch.device('cpu'))
    # official: F.unfold(kernel_size=10, stride=4) on a 14x14 map
    assert rows.tolist() == [list(range(0, 10)), list(range(4, 14))]
    x = torch.randn(2, 14, 14, 8)
    ref = F.unfold(x.permute(0, 3, 1, 2), kernel_size=10, stride=4)
    ref = ref.view(2, 8, 10, 10, -1).permute(0, 4, 2, 3, 1).reshape(-1, 100, 8)
    keys = x[:, rows[:, None, :, None], rows[None, :, None, :]].reshape(-1, 100, 8)
    torch.testing.assert_close(keys, ref)


def test_generation_pools_window_maxima():
    torch.manual_seed(0)
    gen = SemanticTokenGeneration(4, 1, window=4, num_semantic=2, key_overlap=1)
    x = torch.randn(1, 8, 8, 4)
    out, grid = gen(x)
    assert grid == (4, 4) and out.shape == (1, 16, 4)
    # with the layer scales at zero the block returns zeros: no residual on the pooled tokens
    with torch.no_grad():
        gen.gamma1.zero_()
        gen.gamma2.zero_()
    assert gen(x)[0].abs().max() < 1e-6


def test_semantic_block_reference():
    torch.manual_seed(0)
    blk = SemanticBlock(8, 2, layer_scale_init_value=1.0).eval()
    x, y = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    a = blk.attn
    q = a.q(blk.norm1(x)).view(2, 3, 2, 4).transpose(1, 2)
    k, v = a.kv(blk.norm1(y)).view(2, 5, 2, 2, 4).permute(2, 0, 3, 1, 4)
    o = torch.softmax(q @ k.transpose(-1, -2) / 2, -1) @ v
    ref = x + a.proj(o.transpose(1, 2).reshape(2, 3, 8))
    ref = ref + blk.ffn(blk.norm2(ref))
    torch.testing.assert_close(blk(x, y), ref)


def test_dense_outputs_any_size_and_gradients():
    model = STViT(arch=TINY, in_channels=1, window_size=4, num_semantic=2,
                  out_indices=(0, 1, 2, 3), drop_path_rate=0.)
    outs = model(torch.randn(2, 1, 50, 38))
    assert [o.shape[1] for o in outs] == [16, 32, 64, 128]
    assert outs[0].shape[-2:] == (13, 10) and outs[2].shape[-2:] == (4, 3)
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_swin_stage_fitting_one_window_is_not_shifted():
    """As the official Swin / STViT-R: a map no larger than the window is one unshifted window
    (mmpretrain implements that rule for maps equal to the window with pad_small_map=False)."""
    from mmpretrain.models.backbones.swin_transformer import SwinBlockSequence
    torch.manual_seed(0)
    stage = STViT(arch=dict(TINY, depths=[1, 1, 6, 2]), window_size=4).stages[3].eval()
    official = SwinBlockSequence(128, 2, 4, window_size=4).eval()
    official.load_state_dict(stage.state_dict())
    for side in (4, 8):  # one window; several windows, the second block shifted
        x = torch.randn(1, side * side, 128)
        torch.testing.assert_close(stage(x, (side, side))[0], official(x, (side, side))[0])
    assert stage.blocks[1].attn.shift_size == 2
    # smaller maps are padded to one window, unshifted too
    out = stage(torch.randn(1, 6, 128), (2, 3))[0]
    assert out.shape == (1, 6, 128) and torch.isfinite(out).all()


def test_stage_flops_are_lower_than_swin():
    from mmengine.analysis import FlopAnalyzer
    x = torch.randn(1, 196, 32)
    sparse = STViTRStage(32, 6, 2, 7, downsample=False).eval()
    from mmpretrain.models.backbones.swin_transformer import SwinBlockSequence
    dense = SwinBlockSequence(32, 6, 2, 7).eval()

    class Wrap(torch.nn.Module):

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x, (14, 14))[0]

    f_sparse = FlopAnalyzer(Wrap(sparse), (x, )).total()
    f_dense = FlopAnalyzer(Wrap(dense), (x, )).total()
    assert f_sparse < 0.75 * f_dense


def test_frozen_stages():
    model = STViT(arch=TINY, window_size=4, num_semantic=2, frozen_stages=1)
    model.train()
    assert not model.patch_embed[0].bn.training
    assert all(not p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())


def test_bad_config():
    with pytest.raises(ValueError, match='multiple of 6'):
        STViT(arch=dict(TINY, depths=[1, 1, 4, 1]))
    with pytest.raises(ValueError, match='"num_semantic"'):
        STViT(arch=TINY, window_size=4, num_semantic=5)
    with pytest.raises(ValueError, match='"arch" must be one of'):
        STViT(arch='huge')


# ---------------------------------------------------------------- DeiT-based STViT (STViTDeiT)
DEIT_TINY = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)


def _deit(**kwargs):
    cfg = dict(arch=DEIT_TINY, img_size=32, patch_size=4, in_channels=1,
               num_semantic_tokens=9, semantic_layer=1)
    cfg.update(kwargs)
    return STViTDeiT(**cfg)


def test_deit_global_generation_pools_the_whole_map():
    torch.manual_seed(0)
    gen = SemanticTokenGeneration(4, 1, window=None, num_semantic=2, shortcut=True)
    x = torch.randn(2, 6, 8, 4)
    with torch.no_grad():
        gen.gamma1.zero_()
        gen.gamma2.zero_()
    out, grid = gen(x)
    # with zero layer scales only the shortcut is left: the 3x4 maxima of the 6x8 map
    ref = x.view(2, 2, 3, 2, 4, 4).amax(dim=(2, 4)).reshape(2, 4, 4)
    assert grid == (2, 2)
    torch.testing.assert_close(out, ref)


def _authors_weighted_pooling(pool, x):
    """The authors' arithmetic (changsn/STViT-R issue #4) for a 14x14 map and 4x4 tokens."""
    B, C, H, W = x.shape
    pad_mask = F.pad(torch.zeros(B, 1, H, W), (1, 1, 1, 1), value=-100)
    cells = F.unfold(x, kernel_size=4, padding=1, stride=4).reshape(B, C, 4, 4, 16)
    cells = cells.permute(0, 4, 1, 2, 3).reshape(-1, C, 4, 4)
    pad_mask = F.unfold(pad_mask, kernel_size=4, stride=4).reshape(B, 1, 4, 4, 16)
    pad_mask = pad_mask.permute(0, 4, 1, 2, 3).reshape(-1, 1, 4, 4)
    h = pool.dw_conv(cells)
    h = pool.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    mask = torch.softmax((pool.score(F.gelu(h)) + pad_mask).reshape(-1, 1, 16), dim=-1)
    return (cells.reshape(-1, C, 16) * mask).sum(-1).reshape(B, 16, C)


def test_weighted_pooling_matches_authors_arithmetic_and_trains():
    torch.manual_seed(0)
    pool = WeightedCellPooling(8, num_semantic=4)
    x = torch.randn(2, 8, 14, 14, requires_grad=True)
    out = pool(x)
    assert out.shape == (2, 16, 8)
    torch.testing.assert_close(out, _authors_weighted_pooling(pool, x))
    out.pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    for name, p in pool.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # a token is a convex combination of its cell (padding gets no weight): a map of ones
    # pools to ones, also for sizes that need uneven padding
    ones = pool(torch.ones(1, 8, 10, 13))
    torch.testing.assert_close(ones, torch.ones(1, 16, 8))


def test_deit_init_pool_option():
    weighted, max_pool = _deit(), _deit(init_pool='max')
    L = weighted.semantic_layer
    assert isinstance(weighted.layers[L].pool, WeightedCellPooling)
    assert max_pool.layers[L].pool is None
    x = torch.randn(2, 1, 32, 32)
    assert weighted(x)[0].shape == max_pool(x)[0].shape == (2, 32)
    with pytest.raises(ValueError, match='"init_pool"'):
        _deit(init_pool='avg')
    with pytest.raises(ValueError, match='"weighted_pool"'):
        SemanticTokenGeneration(8, 1, window=4, num_semantic=2, weighted_pool=True)


def test_deit_odd_input_sizes_and_out_types():
    x = torch.randn(2, 1, 37, 45)  # 10x12 patches after corner padding
    assert _deit()(x)[0].shape == (2, 32)
    outs = _deit(out_type='featmap', out_indices=(0, 1, 2, 3))(x)
    # block 0 still sees the image map; from block 1 on the 3x3 semantic grid
    assert [tuple(o.shape) for o in outs] == [(2, 32, 10, 12)] + [(2, 32, 3, 3)] * 3
    assert _deit(out_type='avg_featmap', with_cls_token=False)(x)[0].shape == (2, 32)


def test_deit_token_count_after_sparsification():
    x = torch.randn(1, 1, 32, 32)
    outs = _deit(out_type='raw', out_indices=(0, 1, 3), num_semantic_tokens=16)(x)
    assert [o.shape[1] for o in outs] == [1 + 64, 1 + 16, 1 + 16]
    outs = _deit(out_type='raw', with_cls_token=False, out_indices=(3, ))(x)
    assert outs[0].shape == (1, 9, 32)


def test_deit_blocks_before_semantic_layer_equal_mmpretrain_vit():
    from mmpretrain.models.backbones import VisionTransformer
    torch.manual_seed(0)
    ours = _deit(semantic_layer=2, out_type='raw', out_indices=(1, ))
    ours.init_weights()
    ref = VisionTransformer(arch=DEIT_TINY, img_size=32, patch_size=4, in_channels=1,
                            out_type='raw', out_indices=(1, ))
    missing, _ = ref.load_state_dict(ours.state_dict(), strict=False)
    assert all(k.startswith(('layers.2', 'layers.3')) for k in missing)
    x = torch.randn(2, 1, 44, 28)  # another size: the same interpolated position embedding
    ours.eval()
    ref.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0])


def test_deit_gradients_reach_every_parameter():
    model = _deit(drop_path_rate=0.1)
    model.init_weights()
    out = model(torch.randn(2, 1, 30, 34))[0]
    (out * torch.randn_like(out)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_deit_trains_a_few_steps():
    torch.manual_seed(0)
    model = _deit()
    model.init_weights()
    head = torch.nn.Linear(32, 3)
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 3, (8, ))
    opt = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = F.cross_entropy(head(model(x)[0]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_deit_small_params_match_deit_s_plus_module():
    C, L, patch, tokens, classes = 384, 12, 16, 196, 1000
    # DeiT-S: patch embedding, cls token, position embedding, 12 blocks (qkv 3C^2+3C, proj
    # C^2+C, MLP 8C^2+5C, two LayerNorms 4C), final LayerNorm, 1000-class head
    deit_s = (3 * patch * patch * C + C) + C + (tokens + 1) * C + L * (12 * C * C + 13 * C) \
        + 2 * C + C * classes + classes
    assert abs(deit_s - 22.1e6) / 22.1e6 < 0.01  # the published DeiT-S size
    # what STViT adds: 16 global centres, two layer scales in each of the two semantic blocks
    # and the weighted pooling's mask branch (depthwise 3x3 conv 10C, LayerNorm 2C, 1x1 conv C)
    expected = deit_s + 16 * C + 4 * C + 13 * C
    with torch.device('meta'):
        model = STViTDeiT(arch='deit-small')
    n = sum(p.numel() for p in model.parameters()) + C * classes + classes
    assert n == expected
    assert abs(n - 22.1e6) / 22.1e6 < 0.02


def test_deit_flops_fall_with_semantic_tokens():
    from mmengine.analysis import FlopAnalyzer
    from mmpretrain.models.backbones import VisionTransformer
    arch = dict(embed_dims=96, num_layers=12, num_heads=2, feedforward_channels=384)
    x = torch.randn(1, 3, 224, 224)
    ours = FlopAnalyzer(STViTDeiT(arch=arch).eval(), (x, ))
    dense = FlopAnalyzer(VisionTransformer(arch=arch), (x, ))
    for a in (ours, dense):
        a.unsupported_ops_warnings(False)
        a.uncalled_modules_warnings(False)
    # 4 of 12 blocks on 197 tokens, 2 generation blocks, 6 blocks on 17 tokens
    assert ours.total() < 0.5 * dense.total()


def test_deit_frozen_stages():
    model = _deit(frozen_stages=3, drop_rate=0.1)
    model.train()
    assert not model.global_centers.requires_grad
    assert not model.pos_embed.requires_grad and not model.cls_token.requires_grad
    assert all(not p.requires_grad for layer in model.layers[:3] for p in layer.parameters())
    assert all(p.requires_grad for p in model.layers[3].parameters())
    assert not model.layers[0].training and model.layers[3].training
    model = _deit(frozen_stages=1)
    assert model.global_centers.requires_grad


def test_deit_bad_config():
    with pytest.raises(ValueError, match='"num_semantic_tokens" must be a square'):
        _deit(num_semantic_tokens=15)
    with pytest.raises(ValueError, match=r'"semantic_layer" must be in \[0, num_layers - 2'):
        _deit(semantic_layer=3)
    with pytest.raises(ValueError, match='"arch" must be one of'):
        STViTDeiT(arch='deit-huge')
    with pytest.raises(ValueError,
                       match=r'misses keys \[.num_heads., .feedforward_channels.\]'):
        STViTDeiT(arch=dict(embed_dims=32, num_layers=4))
    with pytest.raises(ValueError, match='"frozen_stages"'):
        _deit(frozen_stages=5)
    with pytest.raises(ValueError, match='"out_type"'):
        _deit(out_type='cls_token', with_cls_token=False)


def test_registered_names():
    from mmext.registry import MODELS
    assert MODELS.get('STViTDeiT') is STViTDeiT and MODELS.get('STViT') is STViT
