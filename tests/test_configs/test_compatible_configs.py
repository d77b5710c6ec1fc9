"""Compatible-upgrade configs (RACT / BCT on GLDv2, the Fashion-MNIST demo) build, forward and
train a couple of iterations; the old model never reaches the saved checkpoint."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import mmext  # noqa: F401
# the old model plays the distillation teacher: a randomly initialised one, saved to tmp_path
from test_distill_configs import _with_random_teacher as _with_random_old_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DIR = REPO / 'configs/compatible'

GLDV2 = ['ract_resnet50-gem-512d_6xb32-30e_gldv2.py', 'bct_resnet50-gem-512d_6xb32-30e_gldv2.py']
FASHION = ['new_resnet8-w16_1xb128-300it_fashionmnist.py',
           'ract_resnet8-w16_1xb128-300it_fashionmnist.py',
           'bct_resnet8-w16_1xb128-300it_fashionmnist.py']


def _samples(n):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(i) for i in range(n)]


@pytest.mark.parametrize('name', GLDV2)
def test_gldv2_configs_build_and_forward(name, tmp_path):
    cfg = Config.fromfile(str(DIR / name))
    assert cfg.custom_imports.imports == ['mmext']
    init_default_scope(cfg.default_scope)
    # the old GLDv2 model is not available here: random weights, explicitly allowed
    cfg.model.teacher_ckpt = None
    cfg.model.allow_untrained_teacher = True
    cfg.model.input_shape = (3, 64, 64)
    model = MODELS.build(cfg.model)  # one no_grad forward of new and old model
    head = model.student.head
    assert head.layers[0].fc.out_features == 512 and head.layers[1].fc.out_features == 81313
    assert cfg.optim_wrapper.optimizer.lr == 0.1 and cfg.train_cfg.max_epochs == 30
    assert cfg.train_dataloader.batch_size * 6 == 192
    model.train()
    losses = model(torch.randn(2, 3, 64, 64), _samples(2), mode='loss')
    assert any(k.startswith(('loss_ract', 'loss_bct')) for k in losses)
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    out = model(torch.randn(2, 3, 64, 64), _samples(2), mode='predict')
    assert out[0].embedding.shape == (512, ) and out[0].old_embedding.shape == (512, )
    from mmext.registry import METRICS
    METRICS.build(cfg.val_evaluator)


def test_gcr_configs_rerank_the_retrieval_metric():
    from mmext.registry import METRICS
    for name in ['ract-gcr_resnet50-gem-512d_6xb32-30e_gldv2.py',
                 'ract-gcr_resnet8-w16_1xb128-300it_fashionmnist.py']:
        cfg = Config.fromfile(str(DIR / name))
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
            cfg.test_evaluator]
        metric = METRICS.build(evaluators[-1])
        assert metric.rerank == dict(type='GCR', k=45, beta=0.08, rounds=3)
        assert set(metric.pairs) == {'old_old', 'new_old', 'new_new'}


@pytest.mark.parametrize('name', FASHION)
def test_fashionmnist_configs_build_and_loss(name, tmp_path):
    cfg = _with_random_old_model(Config.fromfile(str(DIR / name)), tmp_path)
    model = MODELS.build(cfg.model)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([72.94])
    losses = model(torch.randn(4, 1, 28, 28), _samples(4), mode='loss')
    for item in model.distill_items:
        assert item.name in losses


def test_fashionmnist_ract_trains_two_iterations(tmp_path, fashion_mnist_root):
    from mmengine.runner import Runner
    cfg = _with_random_old_model(
        Config.fromfile(str(DIR / 'ract_resnet8-w16_1xb128-300it_fashionmnist.py')), tmp_path)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=8)
    cfg.train_dataloader.dataset.indices = 16
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False, batch_size=8)
    cfg.val_dataloader.dataset.indices = 24
    cfg.val_evaluator[1].num_queries = 8
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.param_scheduler = []
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    logged = runner.message_hub.log_scalars
    assert {'train/loss_ract', 'train/loss_student'} <= set(logged)
    assert {'val/retrieval/old_old/mAP', 'val/retrieval/new_old/mAP',
            'val/retrieval/new_new/top1', 'val/accuracy/top1'} <= set(logged)
    ckpt = torch.load(tmp_path / 'work' / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert not any(k.startswith('teacher.') for k in ckpt['state_dict'])


def test_bict_forward_trains_only_the_transformation(tmp_path):
    """The BiCT forward stage: the old backbone (loaded, frozen) and the new model (teacher)
    stay fixed; only psi (the neck) learns, through the new model's classifier."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    cfg = Config.fromfile(str(DIR / 'bict-forward_resnet8-w16_1xb128-300it_fashionmnist.py'))
    init_default_scope(cfg.default_scope)
    old = PRETRAIN_MODELS.build(mmext.models.distillers.model_cfg_from(
        str(DIR / 'old_resnet8-w16_1xb128-100it_fashionmnist.py')))
    torch.save(dict(state_dict=old.state_dict()), tmp_path / 'old_model.pth')
    cfg = _with_random_old_model(cfg, tmp_path)  # the frozen new model (teacher)
    cfg.model.student.backbone.init_cfg.checkpoint = str(tmp_path / 'old_model.pth')
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert torch.equal(model.student.backbone.conv1.weight, old.backbone.conv1.weight)
    assert model.distill_items[0].loss._old_fc[0] is model.teacher.head.fc
    model.train()
    assert not model.student.backbone.layer3.training  # frozen stages stay in eval mode
    backbone = {k: v.clone() for k, v in model.student.backbone.state_dict().items()}
    neck = model.student.neck.state_dict()['fc0.weight'].clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):
        losses = model(torch.randn(4, 1, 28, 28), _samples(4), mode='loss')
        opt.zero_grad()
        model.parse_losses(losses)[0].backward()
        opt.step()
    assert 'loss_bict_forward' in losses
    for key, value in model.student.backbone.state_dict().items():
        assert torch.equal(backbone[key], value), key
    assert not torch.equal(neck, model.student.neck.state_dict()['fc0.weight'])
