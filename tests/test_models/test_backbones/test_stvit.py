import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.backbones.stvit import (STViT, SemanticBlock, SemanticTokenGeneration,
                                          STViTRStage)

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
