import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.classifiers import PatchCutMix, SMMixClassifier
from mmext.models.classifiers.smmix import paste_tokens, region_token_indices

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def build(**kwargs):
    cfg = dict(
        backbone=dict(type='VisionTransformer', arch=ARCH, img_size=32, patch_size=8,
                      out_type='raw'),
        head=dict(type='VisionTransformerClsHead', num_classes=5, in_channels=32),
        smmix_prob=1.0,
        min_side_ratio=0.25,
        max_side_ratio=0.5)
    cfg.update(kwargs)
    return SMMixClassifier(**cfg)


def samples(labels):
    return [DataSample().set_gt_label(int(i)) for i in labels]


def test_region_indices_and_paste_by_hand():
    assert region_token_indices(3, 2, torch.device('cpu')).tolist() == [
        [0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]
    # two 1-channel 4x4 images of 2x2-pixel tokens (2x2 token grid), token t of image b is
    # filled with 10 * b + t
    imgs = torch.zeros(2, 1, 4, 4)
    for b in range(2):
        for t in range(4):
            r, c = divmod(t, 2)
            imgs[b, 0, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = 10 * b + t
    out = paste_tokens(imgs, 2, target_idx=torch.tensor([[0], [3]]),
                       source_idx=torch.tensor([[1], [2]]))
    # image 0, token 0 <- image 1, token 2 ; image 1, token 3 <- image 0, token 1
    assert out[0, 0, :2, :2].eq(12).all() and out[1, 0, 2:, 2:].eq(1).all()
    assert out[0, 0, 2:, 2:].eq(3).all() and out[1, 0, :2, :2].eq(10).all()


def test_attention_map_matches_attention_output():
    model = build().eval()
    outputs = {}
    attn = model.backbone.layers[-1].attn
    attn.register_forward_hook(lambda m, a, o: outputs.setdefault('out', o))
    model._capture_attn = True
    model.backbone(torch.randn(2, 3, 32, 32))
    x = model._last_attn_input
    B, L, C = x.shape
    qkv = attn.qkv(x).reshape(B, L, 3, 2, C // 2).permute(2, 0, 3, 1, 4)
    probs = ((qkv[0] @ qkv[1].transpose(-2, -1)) * (C // 2)**-0.5).softmax(-1)
    out = attn.proj((probs @ qkv[2]).transpose(1, 2).reshape(B, L, C))
    assert torch.allclose(out, outputs['out'], atol=1e-5)
    assert torch.allclose(model._patch_attention(), probs[:, :, 1:, 1:].mean((1, 2)), atol=1e-6)


def test_smmix_mixes_max_into_min_region(monkeypatch):
    model = build()
    logits = torch.tensor([[2., 0., 0., 0., 0.], [0., 0., 0., 0., 3.]])
    # 4x4 token grid; image 0 attends to its top-left, image 1 to its bottom-right
    attn = torch.zeros(2, 16)
    attn[0, 0] = attn[1, 15] = 1.
    monkeypatch.setattr(model, '_motivate', lambda x: (logits, attn))
    monkeypatch.setattr('random.choice', lambda seq: 1)  # 1x1-token regions
    imgs = torch.stack([torch.full((3, 32, 32), 1.), torch.full((3, 32, 32), 2.)])
    one_hot = F.one_hot(torch.tensor([0, 4]), 5).float()
    mix = model.smmix(imgs, one_hot)
    lam = 15 / 16
    # the first min-attention window of image 0 is token 1 (token 0 holds the max); it gets
    # image 1's max token (15), and image 1's min window (token 0) gets image 0's token 0
    assert mix['source_mask'][0].nonzero().flatten().tolist() == [1]
    assert mix['source_mask'][1].nonzero().flatten().tolist() == [0]
    assert torch.equal(mix['target_mask'], ~mix['source_mask'])
    assert mix['inputs'][0, :, :8, 8:16].eq(2.).all() and mix['inputs'][0].eq(2.).sum() == 3 * 64
    assert mix['inputs'][1, :, :8, :8].eq(1.).all()
    assert torch.allclose(mix['target'][0], torch.tensor([lam, 0, 0, 0, 1 - lam]))
    assert torch.allclose(mix['mixed_logits'][0], lam * logits[0] + (1 - lam) * logits[1])


def test_loss_terms_and_gradients():
    torch.manual_seed(0)
    model = build().train()
    losses = model.loss(torch.randn(4, 3, 32, 32), samples([0, 1, 2, 3]))
    assert set(losses) == {'loss', 'loss_fine', 'loss_consistency'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert model.training


def test_plain_batches_equal_image_classifier():
    torch.manual_seed(0)
    model = build(smmix_prob=0., mix_augments=None).eval()
    x = torch.randn(2, 3, 32, 32)
    loss = model.loss(x, samples([1, 2]))['loss']
    logits = model.head((model.backbone(x)[-1][:, 0], ))
    assert torch.allclose(loss, F.cross_entropy(logits, torch.tensor([1, 2])))
    preds = model.predict(x)
    assert torch.allclose(preds[0].pred_score, logits.softmax(-1)[0], atol=1e-6)


def test_patch_cutmix_label_is_area():
    torch.manual_seed(0)
    aug = PatchCutMix(patch_size=8, min_side_ratio=0.5, max_side_ratio=0.5)
    imgs = torch.stack([torch.zeros(1, 32, 32), torch.ones(1, 32, 32)])
    scores = F.one_hot(torch.tensor([0, 1]), 2).float()
    mixed, mixed_scores = aug(imgs.clone(), scores)
    # one 2x2-token (16x16 px) square of the partner -> lam = 1 - 4 / 16
    assert mixed[0].sum() == 256 and (1 - mixed[1]).sum() == 256
    assert torch.allclose(mixed_scores, torch.tensor([[0.75, 0.25], [0.25, 0.75]]))
    with pytest.raises(ValueError, match='divisible by "patch_size"'):
        aug(torch.zeros(2, 1, 30, 30), scores)


def test_errors():
    with pytest.raises(ValueError, match='out_type="raw"'):
        build(backbone=dict(type='VisionTransformer', arch=ARCH, img_size=32, patch_size=8))
    with pytest.raises(ValueError, match='train_cfg.augments'):
        build(train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8)]))
    with pytest.raises(ValueError, match='"neck"'):
        build(neck=dict(type='GlobalAveragePooling'))
    with pytest.raises(ValueError, match='region side of 0 tokens'):
        build(min_side_ratio=0.1)
    with pytest.raises(ValueError, match='inputs must be 32 pixels square'):
        build().smmix(torch.zeros(2, 3, 48, 48), torch.zeros(2, 5))
