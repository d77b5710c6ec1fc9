"""CDTrans classifier: three-branch forward vs references, losses by hand, errors."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.classifiers import BNNeck, CDTrans, SourceTargetDataPreprocessor
from mmext.models.classifiers.cdtrans import cdtrans_distill_loss

ARCH = dict(embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=64)


def build(**kwargs):
    cfg = dict(
        backbone=dict(type='VisionTransformer', arch=ARCH, img_size=16, patch_size=4,
                      in_channels=1),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=32))
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = CDTrans(**cfg)
    model.init_weights()
    return model


def pair_samples(source_labels, target_labels):
    src = [DataSample().set_gt_label(int(y)) for y in source_labels]
    tgt = [DataSample(metainfo=dict(domain='target')).set_gt_label(int(y))
           for y in target_labels]
    return src + tgt


def reference_three_branch_block(layer, x, x2, fusion):
    """One block of the official Block_3_branches, written out with the layer's weights."""
    heads = layer.attn.num_heads
    W, b = layer.attn.qkv.weight, layer.attn.qkv.bias

    def split(t):
        B, N, C = t.shape
        qkv = F.linear(t, W, b).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def attend(q, k, v):
        B, _, N, d = q.shape
        a = ((q @ k.transpose(-2, -1)) * d**-0.5).softmax(dim=-1)
        return layer.attn.proj((a @ v).transpose(1, 2).reshape(B, N, heads * d))

    def mlp(t):
        return layer.ffn.layers(t)

    q, k, v = split(layer.ln1(x))
    q2, k2, v2 = split(layer.ln1(x2))
    xa = x + attend(q, k, v)
    xa = xa + mlp(layer.ln2(xa))
    xb = x2 + attend(q2, k2, v2)
    xb = xb + mlp(layer.ln2(xb))
    xab = fusion + attend(q, k2, v2)  # source queries, target keys / values
    xab = xab + mlp(layer.ln2(xab))
    return xa, xb, xab


def test_branches_match_plain_vit_and_official_cross_attention():
    model = build().eval()
    src, tgt = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16)
    fs, ft, fx = model.three_branch_features(src, tgt)
    # the source and target streams are the plain ViT
    assert torch.allclose(fs, model.backbone(src)[0], atol=1e-5)
    assert torch.allclose(ft, model.backbone(tgt)[0], atol=1e-5)
    # the cross stream against the official block layout on the same weights
    x, x2 = model._embed(src), model._embed(tgt)
    fusion = x2
    for layer in model.backbone.layers:
        x, x2, fusion = reference_three_branch_block(layer, x, x2, fusion)
    ref = model.backbone.ln1(fusion)[:, 0]
    assert torch.allclose(fx, ref, atol=1e-5)
    assert not torch.allclose(fx, ft, atol=1e-3)


def test_cross_stream_depends_on_source_only_through_attention():
    model = build().eval()
    tgt = torch.randn(2, 1, 16, 16)
    _, ft1, fx1 = model.three_branch_features(torch.randn(2, 1, 16, 16), tgt)
    _, ft2, fx2 = model.three_branch_features(torch.randn(2, 1, 16, 16), tgt)
    assert torch.allclose(ft1, ft2, atol=1e-6)
    assert not torch.allclose(fx1, fx2, atol=1e-4)


def test_distill_loss_by_hand():
    # teacher softmax (1/4, 3/4), student log-softmax (-ln 2, -ln 2): loss ln 2
    teacher = torch.tensor([[0., math.log(3.)]])
    student = torch.zeros(1, 2)
    assert cdtrans_distill_loss(teacher, student).item() == pytest.approx(math.log(2.), abs=1e-6)
    # teacher (1/2, 1/2), student softmax (1/4, 3/4): 0.5 * (ln 4 + ln 4/3)
    loss = cdtrans_distill_loss(torch.zeros(1, 2), teacher)
    assert loss.item() == pytest.approx(0.5 * (math.log(4.) + math.log(4. / 3.)), abs=1e-6)


def test_loss_terms_match_hand_computation():
    model = build(source_weight=0.5, target_weight=2.0, distill_weight=3.0)
    model.train()
    src, tgt = torch.randn(3, 1, 16, 16), torch.randn(3, 1, 16, 16)
    samples = pair_samples([0, 1, 2], [2, 2, 0])
    torch.manual_seed(1)
    losses = model.loss(torch.cat([src, tgt]), samples)
    torch.manual_seed(1)
    fs, ft, fx = model.three_branch_features(src, tgt)
    ls, lt, lx = (model.head.fc(model.neck((f, ))[0]) for f in (fs, ft, fx))
    expect_s = F.cross_entropy(ls, torch.tensor([0, 1, 2]))
    expect_t = F.cross_entropy(lt, torch.tensor([2, 2, 0]))
    expect_d = -(lx.softmax(-1) * lt.log_softmax(-1)).sum(-1).mean()
    assert losses['loss_source'].item() == pytest.approx(0.5 * expect_s.item(), rel=1e-5)
    assert losses['loss_target'].item() == pytest.approx(2.0 * expect_t.item(), rel=1e-5)
    assert losses['loss_distill'].item() == pytest.approx(3.0 * expect_d.item(), rel=1e-5)


def test_teacher_gradient_official_and_detached():
    def source_input_grad(detach):
        model = build(detach_teacher=detach, source_weight=0., target_weight=0.)
        x = torch.randn(4, 1, 16, 16, requires_grad=True)
        model.loss(x, pair_samples([0, 1], [1, 0]))['loss_distill'].backward()
        return x.grad[:2].abs().sum()

    # official: the teacher (cross stream, whose queries come from the source images) is not
    # detached, so the distillation reaches the source images; detached, only the target
    # stream (the student) is trained by it
    assert source_input_grad(False) > 0
    assert source_input_grad(True) == 0


def test_predict_is_the_target_path():
    model = build().eval()
    x = torch.randn(2, 1, 16, 16)
    preds = model.predict(x)
    _, ft, _ = model.three_branch_features(x, x)
    logits = model.head.fc(model.neck((ft, ))[0])
    assert torch.allclose(torch.stack([p.pred_score for p in preds]), logits.softmax(-1),
                          atol=1e-5)


def test_preprocessor_concatenates_pairs():
    pre = SourceTargetDataPreprocessor(mean=[0.], std=[1.])
    data = dict(inputs=[torch.zeros(1, 4, 4)] * 2, data_samples=[DataSample()] * 2,
                target_inputs=[torch.ones(1, 4, 4)] * 2,
                target_data_samples=[DataSample(metainfo=dict(domain='target'))] * 2)
    out = pre(data, True)
    assert out['inputs'].shape == (4, 1, 4, 4)
    assert out['inputs'][:2].eq(0).all() and out['inputs'][2:].eq(1).all()
    assert [s.metainfo.get('domain') for s in out['data_samples']] == [None, None] + ['target'] * 2


def test_bnneck_bias_frozen():
    neck = BNNeck(8)
    assert not neck.bn.bias.requires_grad and neck.bn.weight.requires_grad
    out = neck((torch.randn(5, 8), ))[0]
    assert torch.allclose(out.mean(0), torch.zeros(8), atol=1e-5)


@pytest.mark.parametrize('kwargs, match', [
    (dict(distill_weight=-1.), 'distill_weight'),
    (dict(source_weight=-0.1), 'source_weight'),
    (dict(data_preprocessor=dict(type='ClsDataPreprocessor')), 'data_preprocessor'),
    (dict(backbone=dict(type='VisionTransformer', arch=ARCH, img_size=16, patch_size=4,
                        out_type='raw')), 'out_type'),
    (dict(backbone=dict(type='VisionTransformer', arch=ARCH, img_size=16, patch_size=4,
                        out_indices=(0, 1))), 'out_indices'),
    (dict(backbone=dict(type='ResNet', depth=18)), 'VisionTransformer'),
    (dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.8))), 'augments'),
])
def test_bad_config_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


def test_plain_batch_is_rejected_in_loss():
    model = build()
    with pytest.raises(ValueError, match='source-target pair'):
        model.loss(torch.randn(4, 1, 16, 16), [DataSample().set_gt_label(0)] * 4)


def test_without_neck():
    model = build(neck=None)
    assert not model.with_neck
    losses = model.loss(torch.randn(4, 1, 16, 16), pair_samples([0, 1], [1, 1]))
    assert all(torch.isfinite(v) for v in losses.values())
