"""CompatibleDistiller: the frozen old model (Distiller teacher) for compatible training."""
import pytest
import torch
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.distillers import CompatibleDistiller


@pytest.fixture(autouse=True)
def _default_scope():
    init_default_scope('mmpretrain')


from mmpretrain.registry import MODELS  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

PREPROCESSOR = dict(num_classes=4, mean=[0.], std=[1.], to_rgb=False)


def resnet8(width: int = 8) -> dict:
    return dict(
        type='ImageClassifier',
        backbone=dict(type='mmext.CIFARResNet', stage_blocks=(1, 1, 1), in_channels=1,
                      stem_channels=width, base_channels=width),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=width * 4,
                  loss=dict(type='CrossEntropyLoss')))


RACT = dict(name='loss_ract', student='neck', teacher='neck',
            loss=dict(type='mmext.RACTLoss', temperature=0.1))
BCT = dict(name='loss_bct', student='neck', loss=dict(type='mmext.BCTLoss'))


@pytest.fixture
def old_ckpt(tmp_path):
    torch.manual_seed(0)
    old = MODELS.build(resnet8())
    path = tmp_path / 'old.pth'
    torch.save(dict(state_dict=old.state_dict()), path)
    return str(path), old


def build(old_ckpt, distill=(RACT, BCT), **kwargs) -> CompatibleDistiller:
    torch.manual_seed(1)
    return MODELS.build(dict(type='mmext.CompatibleDistiller', student=resnet8(),
                             teacher=resnet8(), teacher_ckpt=old_ckpt[0], distill=list(distill),
                             data_preprocessor=PREPROCESSOR, input_shape=(1, 16, 16), **kwargs))


def samples(n):
    return [DataSample().set_gt_label(i % 4) for i in range(n)]


def test_old_model_is_loaded_frozen_and_not_saved(old_ckpt, tmp_path):
    model = build(old_ckpt)
    for key, value in old_ckpt[1].state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value)
    assert not any(p.requires_grad for p in model.teacher.parameters())
    model.train()
    assert not model.teacher.training and model.student.training
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(2):
        losses = model(torch.randn(8, 1, 16, 16), samples(8), mode='loss')
        assert {'loss_ract', 'loss_bct', 'loss'} <= set(losses)
        opt.zero_grad()
        model.parse_losses(losses)[0].backward()
        opt.step()
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(before[key], value), key
    state = model.state_dict()
    assert state and not any(k.startswith('teacher.') for k in state)
    assert all(k.startswith('student.') for k in state)  # the BCT loss holds no old weights
    # the saved student loads back into a fresh wrapper, old model untouched
    fresh = build(old_ckpt)
    fresh.load_state_dict(state, strict=True)


def test_bct_is_bound_to_the_old_classifier(old_ckpt):
    model = build(old_ckpt, distill=(BCT, ))
    assert model.distill_items[0].loss._old_fc[0] is model.teacher.head.fc
    with pytest.raises(ValueError, match='old classifier "head.cls"'):
        build(old_ckpt, distill=(dict(BCT, loss=dict(type='mmext.BCTLoss',
                                                     old_classifier='head.cls')), ))


def test_predict_sets_new_and_old_embeddings(old_ckpt):
    model = build(old_ckpt, distill=())  # the independent new model
    model.eval()
    x = torch.randn(3, 1, 16, 16)
    out = model(x, samples(3), mode='predict')
    old = old_ckpt[1].eval()
    with torch.no_grad():
        expect_old = old.extract_feat(x)[-1]
        expect_new = model.student.extract_feat(x)[-1]
    assert torch.allclose(torch.stack([s.old_embedding for s in out]), expect_old, atol=1e-6)
    assert torch.allclose(torch.stack([s.embedding for s in out]), expect_new, atol=1e-6)
    assert all('pred_label' in s for s in out)
    # a named embedding layer: the head's fc output (4-d logits here) is taken instead
    named = build(old_ckpt, distill=(), embedding='head.fc').eval()
    out = named(x, samples(3), mode='predict')
    assert out[0].embedding.shape == (4, ) and out[0].old_embedding.shape == (4, )


def test_errors(old_ckpt):
    with pytest.raises(ValueError, match='old model'):
        MODELS.build(dict(type='mmext.CompatibleDistiller', student=resnet8(), distill=[],
                          data_preprocessor=PREPROCESSOR))
    with pytest.raises(ValueError, match='"embedding"'):
        build(old_ckpt, distill=(), embedding='head.nope')
    with pytest.raises(ValueError, match='loss_ract'):  # old / new embedding widths differ
        MODELS.build(dict(type='mmext.CompatibleDistiller', student=resnet8(16),
                          teacher=resnet8(), teacher_ckpt=old_ckpt[0], distill=[RACT],
                          data_preprocessor=PREPROCESSOR, input_shape=(1, 16, 16)))
