import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.distillers import Distiller



@pytest.fixture(autouse=True)
def _default_scope():
    """Other test modules switch the global default scope; these tests build mmpretrain models."""
    init_default_scope('mmpretrain')
from mmpretrain.registry import MODELS  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

PREPROCESSOR = dict(num_classes=10, mean=[72.94], std=[90.02], to_rgb=False)


def cnn(depth: int = 18, base: int = 8) -> dict:
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=depth, in_channels=1, base_channels=base,
                      out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=base * 8,
                  loss=dict(type='CrossEntropyLoss')))


def vit(dims: int, layers: int = 3) -> dict:
    return dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', in_channels=1, img_size=16, patch_size=4,
                      arch=dict(embed_dims=dims, num_layers=layers, num_heads=2,
                                feedforward_channels=dims * 2)),
        head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=dims,
                  loss=dict(type='CrossEntropyLoss')))


NKD = dict(name='loss_nkd', student='head', loss=dict(type='mmext.NKDLoss'))
MGD = dict(name='loss_mgd', student='backbone.layer4',
           loss=dict(type='mmext.MGDLoss', student_channels=64, teacher_channels=128,
                     alpha_mgd=7e-5, lambda_mgd=0.15, mask_type='channel'))


@pytest.fixture
def teacher_ckpt(tmp_path):
    torch.manual_seed(0)
    teacher = MODELS.build(cnn(18, 16))
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return str(path), teacher.state_dict()


def build(teacher_ckpt, **kwargs) -> Distiller:
    cfg = dict(type='mmext.Distiller', student=cnn(), teacher=cnn(18, 16),
               teacher_ckpt=teacher_ckpt, data_preprocessor=PREPROCESSOR,
               distill=[NKD, MGD], input_shape=(1, 16, 16))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(n: int = 4, size: int = 16):
    inputs = torch.randn(n, 1, size, size)
    samples = [DataSample().set_gt_label(i % 10) for i in range(n)]
    return inputs, samples


def test_build_loads_teacher_and_uses_student_preprocessor(teacher_ckpt):
    path, state = teacher_ckpt
    model = build(path)
    assert model.data_preprocessor is model.student.data_preprocessor
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([72.94])
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert not any(p.requires_grad for p in model.teacher.parameters())
    # init_weights must not re-initialize the loaded teacher
    model.init_weights()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_build_errors(teacher_ckpt, tmp_path):
    path, _ = teacher_ckpt
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build(str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='allow_untrained_teacher'):
        build(None)
    bad = dict(MGD, student='backbone.layr4')
    with pytest.raises(ValueError, match=r'"backbone.layr4" not found.*backbone.layer4'):
        build(path, distill=[bad])
    bad = dict(MGD, teacher='neck.pool')
    with pytest.raises(ValueError, match=r'teacher module "neck.pool".*nearest.*neck.gap'):
        build(path, distill=[bad])
    # layer3 (32 channels, 4x4) vs layer4 (128 channels, 2x2): no spatial connector
    bad = dict(MGD, student='backbone.layer3', teacher='backbone.layer4',
               loss=dict(MGD['loss'], student_channels=32))
    with pytest.raises(ValueError, match=r'student \(1, 32, 4, 4\), teacher \(1, 128, 2, 2\)'):
        build(path, distill=[bad])
    with pytest.raises(ValueError, match='must contain "loss"'):
        build(path, distill=[dict(NKD, name='nkd')])
    with pytest.raises(ValueError, match='need a teacher'):
        build(path, teacher=None, distill=[NKD])


def test_shape_mismatch_found_at_first_step_without_input_shape(teacher_ckpt):
    bad = dict(MGD, student='backbone.layer3', teacher='backbone.layer4',
               loss=dict(MGD['loss'], student_channels=32))
    model = build(teacher_ckpt[0], distill=[bad], input_shape=None)
    with pytest.raises(ValueError, match=r'student \(4, 32, 4, 4\), teacher \(4, 128, 2, 2\)'):
        model(*batch(), mode='loss')


def test_loss_names_schedule_and_predict(teacher_ckpt):
    nkd = dict(NKD, weight=2.0, warmup_iters=4)
    model = build(teacher_ckpt[0], distill=[nkd, MGD])
    model.train()
    assert not model.teacher.training and model.student.training
    inputs, samples = batch()
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    torch.manual_seed(0)
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss', 'loss_nkd', 'loss_mgd'}
    # reference NKD value from the two models run by hand, warm-up factor 2 * 1/4
    with torch.no_grad():
        logit_t = model.teacher(inputs, mode='tensor')
    logit_s = model.student(inputs, mode='tensor')
    ref = mmext.models.losses.NKDLoss()(logit_s, logit_t, torch.arange(4))
    assert losses['loss_nkd'].item() == pytest.approx(ref.item() * 0.5, rel=1e-5)
    hub.update_info('iter', 10)
    losses = model(inputs, samples, mode='loss')
    assert losses['loss_nkd'].item() == pytest.approx(ref.item() * 2.0, rel=1e-5)
    hub.update_info('iter', 0)

    model.eval()
    with torch.no_grad():
        preds = model(inputs, batch()[1], mode='predict')
        expected = model.student.predict(inputs, batch()[1])
    assert torch.allclose(preds[0].pred_score, expected[0].pred_score)


def test_logged_loss_is_the_total_with_every_term(teacher_ckpt):
    model = build(teacher_ckpt[0])
    losses = model(*batch(), mode='loss')
    total, log_vars = model.parse_losses(losses)
    # the optimised total is logged as `loss`, the student's own term as `loss_student`
    assert list(log_vars) == ['loss', 'loss_student', 'loss_nkd', 'loss_mgd']
    assert log_vars['loss'] is total
    assert total.item() == pytest.approx(sum(v.item() for v in losses.values()), rel=1e-6)
    assert log_vars['loss_student'].item() == pytest.approx(losses['loss'].item())


def test_missing_teacher_checkpoint_names_the_command(tmp_path):
    teacher_cfg = 'configs/distill/teacher_resnet18-w16_1xb128-2e_fashionmnist.py'
    ckpt = 'work_dirs/no_such_teacher/epoch_2.pth'
    with pytest.raises(FileNotFoundError) as exc:
        build(ckpt, teacher=teacher_cfg, student=teacher_cfg, distill=[NKD], input_shape=None)
    assert (f'python tools/train.py {teacher_cfg} --work-dir work_dirs/no_such_teacher'
            in str(exc.value))
    assert 'tools/train_distill.py' in str(exc.value)


def test_decay_schedule(teacher_ckpt):
    model = build(teacher_ckpt[0], distill=[dict(NKD, decay_begin=10, decay_end=20,
                                                 decay_end_factor=0.5)])
    item = model.distill_items[0]
    assert [item.factor(i) for i in (0, 10, 15, 20, 100)] == [1.0, 1.0, 0.75, 0.5, 0.5]
    with pytest.raises(ValueError, match='decay_begin'):
        build(teacher_ckpt[0], distill=[dict(NKD, decay_begin=10)])


def test_teacher_frozen_and_not_in_checkpoint(teacher_ckpt):
    model = build(teacher_ckpt[0])
    model.train()
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    student_before = copy.deepcopy(model.student.state_dict())
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):
        inputs, samples = batch()
        losses = model(inputs, samples, mode='loss')
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
    for k, v in model.teacher.state_dict().items():
        # BN running stats too: the teacher runs in eval mode
        assert torch.equal(v, teacher_before[k]), k
    assert any(not torch.equal(v, student_before[k])
               for k, v in model.student.state_dict().items())
    gen = model.distill_items[1].loss.generation[0].weight
    assert gen.grad is not None and gen.grad.abs().sum() > 0

    state = model.state_dict()
    assert not any(k.startswith('teacher.') for k in state)
    assert any(k.startswith('distill_items.1.loss.generation') for k in state)
    # strict loading works although the teacher keys are absent, and leaves the teacher alone
    fresh = build(teacher_ckpt[0])
    fresh.load_state_dict(state, strict=True)
    for k, v in fresh.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k


def test_tf_nkd_without_teacher():
    model = MODELS.build(dict(
        type='mmext.Distiller', student=cnn(), data_preprocessor=PREPROCESSOR,
        distill=[dict(name='loss_tf_nkd', student='head', loss=dict(type='mmext.TfNKDLoss'))],
        input_shape=(1, 16, 16)))
    assert model.teacher is None
    losses = model(*batch(), mode='loss')
    assert set(losses) == {'loss', 'loss_tf_nkd'} and torch.isfinite(losses['loss_tf_nkd'])


def test_vitkd_with_nkd(tmp_path):
    teacher = MODELS.build(vit(16))
    path = tmp_path / 'vit_teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    paths = ['backbone.layers.0', 'backbone.layers.1', 'backbone.ln1']
    model = MODELS.build(dict(
        type='mmext.Distiller', student=vit(8), teacher=vit(16), teacher_ckpt=str(path),
        data_preprocessor=PREPROCESSOR, input_shape=(1, 16, 16),
        distill=[
            dict(name='loss_vitkd', student=paths,
                 loss=dict(type='mmext.ViTKDLoss', student_dims=8, teacher_dims=16)),
            dict(name='loss_nkd', student='head', loss=dict(type='mmext.NKDLoss', gamma=1.0)),
        ]))
    losses = model(*batch(), mode='loss')
    assert set(losses) == {'loss', 'loss_vitkd_mimic', 'loss_vitkd_generation', 'loss_nkd'}
    sum(losses.values()).backward()
    vitkd = model.distill_items[0].loss
    assert all(p.grad is not None for p in vitkd.parameters())


def runner_cfg(work_dir, teacher_ckpt, max_iters, **kwargs):
    from mmengine.config import Config
    cfg = dict(
        model=dict(type='mmext.Distiller', student=cnn(), teacher=cnn(18, 16),
                   teacher_ckpt=teacher_ckpt, distill=[NKD, MGD], input_shape=(1, 28, 28)),
        data_preprocessor=PREPROCESSOR,
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            dataset=dict(type='FashionMNIST', data_root='data/fashion_mnist', split='train',
                         indices=32, pipeline=[dict(type='PackInputs')]),
            sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmpretrain', randomness=dict(seed=0),
        log_level='WARNING')
    cfg.update(kwargs)
    return Config(cfg)


def test_runner_train_checkpoint_and_resume(teacher_ckpt, tmp_path, fashion_mnist_root):
    from mmengine.runner import Runner
    path, teacher_state = teacher_ckpt
    runner = Runner.from_cfg(runner_cfg(tmp_path / 'run', path, 2))
    runner.train()
    ckpt = torch.load(tmp_path / 'run' / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert not any(k.startswith('teacher.') for k in ckpt['state_dict'])
    assert any(k.startswith('distill_items.1.loss.generation') for k in ckpt['state_dict'])
    logged = runner.message_hub.log_scalars
    assert {'train/loss_nkd', 'train/loss_mgd', 'train/loss'} <= set(logged)

    resumed = Runner.from_cfg(runner_cfg(tmp_path / 'run', path, 4, resume=True,
                                         load_from=str(tmp_path / 'run' / 'iter_2.pth')))
    resumed.train()
    assert resumed.iter == 4
    model = resumed.model
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_state[k]), k
    assert (tmp_path / 'run' / 'iter_4.pth').is_file()
