import math

import pytest
import torch

import mmext  # noqa: F401
from mmext.models.backbones.supervit import SuperViT, select_tokens_by_cls_attention

TINY = dict(embed_dims=16, num_layers=4, num_heads=2, feedforward_channels=32)


def tiny(**kwargs):
    cfg = dict(arch=TINY, patch_size=4, token_grids=(4, 7), keep_rates=(0.5, 1.0),
               prune_layers=(1, 2), in_channels=1)
    cfg.update(kwargs)
    return SuperViT(**cfg)


def test_select_tokens_reference():
    x = torch.arange(2 * 5 * 3, dtype=torch.float).reshape(2, 5, 3)
    attn = torch.zeros(2, 2, 5, 5)
    attn[0, :, 0, 1:] = torch.tensor([0.1, 0.4, 0.2, 0.3])
    attn[1, :, 0, 1:] = torch.tensor([0.9, 0.0, 0.05, 0.05])
    out = select_tokens_by_cls_attention(x, attn, 0.5)
    # class token first, then the two most attended patch tokens by score
    torch.testing.assert_close(out[0], x[0, [0, 2, 4]])
    torch.testing.assert_close(out[1, :2], x[1, [0, 1]])
    assert select_tokens_by_cls_attention(x, attn, 1.0) is x


def test_published_deit_small_params_and_flops():
    from mmengine.analysis import FlopAnalyzer
    model = SuperViT(arch='deit-small')
    n = sum(p.numel() for p in model.parameters()) + 384 * 1000 + 1000
    # DeiT-S: 22.05M; SuperViT adds the 8/10/12-grid position embeddings.
    extra = (65 + 101 + 145) * 384
    assert abs(n - (22.05e6 + extra)) / n < 0.02
    model.set_setting(14, 1.0)
    flops = FlopAnalyzer(model, (torch.randn(1, 3, 224, 224), )).total()
    assert abs(flops - 4.6e9) / 4.6e9 < 0.05


def test_settings_change_tokens_and_flops():
    model = tiny().eval()
    seen = {}

    def hook(mod, inp, out):
        seen.setdefault('n', []).append(inp[0].shape[1])

    model.layers[3].register_forward_hook(hook)
    x = torch.randn(2, 1, 28, 28)
    for grid, rate in model.settings:
        model.set_setting(grid, rate)
        out = model(x)[0]
        assert out.shape == (2, 16)
    # grid 4: 16 patches; keep 0.5 twice: 8 then 4 (+ class token)
    assert seen['n'] == [1 + 4, 1 + 16, 1 + math.ceil(math.ceil(49 / 2) / 2), 1 + 49]


def test_any_input_size_is_resized():
    model = tiny(default_setting=(7, 1.0))
    assert model(torch.randn(1, 1, 45, 33))[0].shape == (1, 16)


def test_gradients_reach_parameters():
    model = tiny(out_type='avg_featmap')
    # each grid only trains its own position embedding
    model.set_setting(7, 0.5)
    out = model(torch.randn(2, 1, 28, 28))[0]
    (out * torch.randn_like(out)).sum().backward()
    for name, p in model.named_parameters():
        if name == 'pos_embeds.0':
            assert p.grad is None
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_frozen_stages():
    model = tiny(frozen_stages=2)
    model.train()
    assert not model.cls_token.requires_grad
    assert all(not p.requires_grad for p in model.layers[1].parameters())
    assert all(p.requires_grad for p in model.layers[2].parameters())
    assert not model.layers[0].training and model.layers[2].training


def test_bad_config():
    with pytest.raises(ValueError, match='"keep_rates"'):
        tiny(keep_rates=(0.0, 1.0))
    with pytest.raises(ValueError, match='"prune_layers"'):
        tiny(prune_layers=(4, ))
    with pytest.raises(ValueError, match='grid 5 is not in'):
        tiny(default_setting=(5, 1.0))
    with pytest.raises(ValueError, match='"out_type"'):
        tiny(out_type='featmap')
