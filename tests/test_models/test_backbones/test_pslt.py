"""Tests of the PSLT backbone (mmext.PSLT), its ladder block, and the configs under configs/pslt."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.backbones.pslt import (PSLT, LadderSelfAttentionBlock, LadderWindowAttention,
                                         _shift_mask)
from mmext.registry import MODELS

# sibling module of this file (pytest puts this folder on sys.path)
from _backbone_checks import (check_config_builds_and_runs, check_pretrained_with_prefix,
                              run_train_steps)

REPO = Path(__file__).resolve().parents[3]
SMALL = dict(embed_dims=6, conv_depths=[1, 2], depths=[2, 1], num_heads=[2, 2])


def _classifier(arch):
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    init_default_scope('mmpretrain')
    return PRETRAIN_MODELS.build(
        dict(type='ImageClassifier', backbone=dict(type='mmext.PSLT', arch=arch),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=1000,
                       in_channels=PSLT.arch_settings[arch]['embed_dims'] * 16)))


def test_paper_size_and_flops():
    """PSLT: 9.2M parameters and 1.9 GFLOPs at 224x224 (paper). FLOPs are counted on the
    convolutions, linears and matmuls (the BatchNorms fold into the convs at inference; with
    norms and pooling mmengine counts 2.01G)."""
    model = _classifier('base').eval()
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - 9.2) / 9.2 < 0.02, n
    fa = FlopAnalyzer(model, (torch.randn(1, 3, 224, 224), ))
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    by_op = fa.by_operator()
    gflops = (by_op['conv'] + by_op['linear'] + by_op['matmul']) / 1e9
    assert abs(gflops - 1.9) / 1.9 < 0.05, gflops


def _swin_mask(Hp, Wp, ws, s, direction):
    """The official slice-based masks: direction 1 rolls by -s, direction 0 by +s."""
    img = torch.zeros(1, Hp, Wp, 1)
    if direction == 1:
        sl = (slice(0, -ws), slice(-ws, -s), slice(-s, None))
    else:
        sl = (slice(0, s), slice(s, ws), slice(ws, None))
    cnt = 0
    for h in sl:
        for w in sl:
            img[:, h, w, :] = cnt
            cnt += 1
    win = img.view(1, Hp // ws, ws, Wp // ws, ws, 1).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws)
    mask = win[:, None, :] - win[:, :, None]
    return mask.masked_fill(mask != 0, -100.).masked_fill(mask == 0, 0.)


@pytest.mark.parametrize('Hp,Wp,ws', [(14, 14, 7), (21, 14, 7), (6, 9, 3)])
@pytest.mark.parametrize('direction', [1, 0])
def test_progressive_shift_masks_match_official(Hp, Wp, ws, direction):
    s = ws // 2
    shift = -s if direction == 1 else s
    assert torch.equal(_shift_mask(Hp, Wp, ws, shift, torch.device('cpu')),
                       _swin_mask(Hp, Wp, ws, s, direction))


def test_window_attention_takes_previous_branch_value():
    """A later ladder branch: q, k from its own input, v from the previous branch, plus its input.
    """
    torch.manual_seed(0)
    attn = LadderWindowAttention(8, 2, 3, external_value=True)
    attn.init_weights()
    x, v = torch.randn(4, 9, 8), torch.randn(4, 9, 8)
    q, k = F.linear(x, attn.qkv.weight, attn.qkv.bias).chunk(2, dim=-1)
    heads = lambda t: t.reshape(4, 9, 2, 4).transpose(1, 2)  # noqa: E731
    bias = attn.relative_position_bias_table[attn.relative_position_index.view(-1)]
    logits = heads(q) @ heads(k).transpose(-2, -1) * 4**-0.5 + bias.view(9, 9, 2).permute(2, 0, 1)
    ref = (logits.softmax(-1) @ heads(v)).transpose(1, 2).reshape(4, 9, 8)
    ref = F.linear(ref, attn.proj.weight, attn.proj.bias) + x
    torch.testing.assert_close(attn(x, v), ref)
    with pytest.raises(ValueError, match='previous branch'):
        attn(x)


def test_ladder_block_branches():
    blk = MODELS.build(dict(type='mmext.LadderSelfAttentionBlock', embed_dims=12, num_heads=2,
                            window_size=3))
    assert [b.shift_sign for b in blk.branches] == [0, -1, 1]
    assert [b.attn.external_value for b in blk.branches] == [False, True, True]
    x = torch.randn(2, 8 * 7, 12, requires_grad=True)
    out = blk(x, (8, 7))
    assert out.shape == x.shape
    # the last branch's output depends on the first branch's channels through the ladder
    g = torch.autograd.grad(out[..., 8:].sum(), x)[0]
    assert g[..., :4].abs().sum() > 0
    with pytest.raises(ValueError, match='divisible'):
        LadderSelfAttentionBlock(10, 2)


@pytest.mark.parametrize('size', [(32, 32), (45, 61), (15, 9)])
def test_out_indices_any_size(size):
    torch.manual_seed(0)
    m = PSLT(SMALL, in_channels=1, window_size=3, out_indices=(0, 1, 2, 3)).eval()
    outs = m(torch.randn(2, 1, *size))
    H, W = size
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        assert out.shape == (2, 12 * 2**i, -(-H // stride), -(-W // stride)), (i, out.shape)


def test_train_steps_reach_every_parameter():
    torch.manual_seed(0)
    m = PSLT(SMALL, window_size=3, out_indices=(0, 1, 2, 3), drop_path_rate=0.1)
    m.init_weights()
    x = torch.randn(2, 3, 64, 48)
    losses = run_train_steps(m, lambda: sum(o.square().mean() for o in m(x)))
    assert losses[-1] < losses[0]


def test_frozen_stages_and_norm_eval():
    m = PSLT(SMALL, out_indices=(1, 2), frozen_stages=1, norm_eval=True)
    m.train()
    for module in (m.stem, m.stages[0], m.stages[1]):
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert all(p.requires_grad for p in m.stages[2].parameters())
    bns = [mod for mod in m.stages[2].modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert bns and all(not bn.training for bn in bns)


def test_pretrained_with_prefix(tmp_path):
    torch.manual_seed(0)
    check_pretrained_with_prefix(lambda **kw: PSLT(SMALL, **kw), tmp_path)


def test_bad_configs():
    with pytest.raises(ValueError, match='"arch" must be one of'):
        PSLT('huge')
    with pytest.raises(ValueError, match='misses keys'):
        PSLT(dict(embed_dims=36))
    with pytest.raises(ValueError, match='embed_dims'):
        PSLT(dict(embed_dims=5, conv_depths=[1, 1], depths=[1, 1], num_heads=[1, 1]))
    with pytest.raises(ValueError, match='"out_indices"'):
        PSLT(SMALL, out_indices=(5, ))
    with pytest.raises(ValueError, match='"stem_stride"'):
        PSLT(SMALL, stem_stride=3)


CONFIGS = sorted((REPO / 'configs' / 'pslt').glob('*.py'))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_builds_and_runs(path):
    check_config_builds_and_runs(path, 'mmdet' if 'coco' in path.name else 'mmpretrain')


def test_configs_present():
    names = {p.name for p in CONFIGS}
    assert {'pslt_8xb128-300e_in1k.py', 'pslt-tiny_8xb128-300e_in1k.py',
            'pslt-large_8xb128-300e_in1k.py', 'mask-rcnn_pslt_fpn_ms-640-800-1x_coco.py',
            'retinanet_pslt_fpn_ms-640-800-1x_coco.py'} <= names
