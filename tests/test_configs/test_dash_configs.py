"""Dash configs: the CIFAR-10 mirror builds and computes a loss; the Fashion-MNIST ones train."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.classifiers.dash import DashClassifier, DashThreshold, FixedThreshold

ROOT = Path(__file__).parents[2]
DASH = ROOT / 'configs/dash'
CIFAR = DASH / 'dash_wrn28-2_1xb64-mu7-1024e_cifar10-250.py'
FMNIST = {n: DASH / f'dash_wrn10-1_1xb16-mu2-1000it_fashionmnist-{n}.py' for n in (40, 250, 1000)}
FIXMATCH = {
    n: DASH / f'fixmatch_wrn10-1_1xb16-mu2-1000it_fashionmnist-{n}.py' for n in (40, 250, 1000)}
SUPERVISED = {
    n: DASH / f'supervised_wrn10-1_1xb16-1000it_fashionmnist-{n}.py' for n in (40, 250, 1000)}


def _load(path):
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def _check_batch(cfg):
    loader = cfg.train_dataloader
    sampler = loader.sampler
    assert loader.batch_size == sampler.labeled_batch_size * (1 + 2 * sampler.mu)


def test_cifar10_mirror_builds_and_computes_loss():
    cfg = _load(CIFAR)
    _check_batch(cfg)
    assert (cfg.train_dataloader.sampler.labeled_batch_size, cfg.train_dataloader.sampler.mu) \
        == (64, 7)
    assert cfg.train_dataloader.dataset.num_labels_per_class == 25
    assert cfg.train_cfg.max_iters == 2**20
    model = MODELS.build(cfg.model)
    assert isinstance(model, DashClassifier) and isinstance(model.selector, DashThreshold)
    sel = model.selector
    assert (sel.gamma, sel.rho_min, sel.warmup_iters, sel.epoch_iters * sel.decay_epochs) == \
        (1.27, 0.05, 10 * 1024, 9 * 1024)
    assert (model.lambda_u, model.temperature, model.normalize) == (0.9, 0.5, 'kept')
    # WRN-28-2 with conv biases (the TF layout) + 10-class head
    params = sum(p.numel() for p in model.parameters())
    assert 1.46e6 < params < 1.48e6
    samples = [DataSample(metainfo=dict(ssl_view='labeled', ssl_index=0)).set_gt_label(3)]
    samples += [DataSample(metainfo=dict(ssl_view=v, ssl_index=7)) for v in ('weak', 'strong')]
    losses = model.loss(torch.randn(3, 3, 32, 32), samples)
    assert torch.isfinite(losses['loss_x']) and torch.isfinite(losses['loss_u'])
    model.eval()
    preds = model.predict(torch.randn(2, 3, 32, 32))
    assert preds[0].pred_score.shape == (10, )


@pytest.mark.parametrize('labels', [40, 250, 1000])
def test_fashionmnist_configs_build(labels):
    cfg = _load(FMNIST[labels])
    _check_batch(cfg)
    assert cfg.train_dataloader.dataset.num_labels_per_class * 10 == labels
    model = MODELS.build(cfg.model)
    assert isinstance(model.selector, DashThreshold)


def test_fixmatch_and_supervised_arms_change_the_model():
    fix, sup = _load(FIXMATCH[250]), _load(SUPERVISED[250])
    fix_model = MODELS.build(fix.model)
    assert isinstance(fix_model.selector, FixedThreshold) and fix_model.selector.confidence == 0.95
    assert (fix_model.lambda_u, fix_model.normalize) == (1.0, 'all')
    assert MODELS.build(sup.model).__class__.__name__ == 'ImageClassifier'
    assert sup.train_dataloader.sampler.mu == 0 and sup.train_dataloader.batch_size == 16


@pytest.mark.parametrize('labels', [40, 250, 1000])
def test_other_arms_share_the_dash_split_and_schedule(labels):
    dash = _load(FMNIST[labels])
    for other in (_load(SUPERVISED[labels]), _load(FIXMATCH[labels])):
        assert other.optim_wrapper == dash.optim_wrapper
        assert other.train_cfg == dash.train_cfg and other.custom_hooks == dash.custom_hooks
        for key in ('num_labels_per_class', 'split_seed', 'labeled_pipeline'):
            assert other.train_dataloader.dataset[key] == dash.train_dataloader.dataset[key]
        assert other.train_dataloader.dataset.num_labels_per_class * 10 == labels


def test_labelled_warmup_arm_changes_only_the_warmup():
    dash = _load(FMNIST[250])
    arm = _load(DASH / 'dash-labeled-warmup_wrn10-1_1xb16-mu2-1000it_fashionmnist-250.py')
    assert arm.model.selection.pop('warmup_unlabeled') is False
    assert arm.model == dash.model and arm.train_dataloader == dash.train_dataloader
    assert not MODELS.build(_load(arm.filename).model).selector.warmup_unlabeled


def test_bad_values_fail_at_build_time(fashion_mnist_root):
    cfg = _load(FMNIST[250])
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.selection.gamma = 1.0
    with pytest.raises(ValueError, match='selection.gamma'):
        MODELS.build(model_cfg)
    data_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    data_cfg.num_labels_per_class = 6001  # Fashion-MNIST has 6000 training images per class
    with pytest.raises(ValueError, match='num_labels_per_class'):
        DATASETS.build(data_cfg)


def _runner(path, work_dir, max_iters=2, **sampler):
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.train_dataloader.dataset.num_unlabeled = 600  # a small pool: quick epochs
    cfg.train_dataloader.sampler.update(sampler)
    s = cfg.train_dataloader.sampler
    cfg.train_dataloader.batch_size = s.labeled_batch_size * (1 + 2 * s.mu)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    return Runner.from_cfg(cfg)


def test_dash_config_trains_two_iterations(fashion_mnist_root, tmp_path):
    runner = _runner(FMNIST[250], tmp_path, labeled_batch_size=4, mu=2)
    before = [p.detach().clone() for p in runner.model.parameters()]
    runner.train()
    model = runner.model
    assert isinstance(model, DashClassifier) and int(model.selector.iter) == 2
    changed = [not torch.equal(a, p) for a, p in zip(before, model.parameters())]
    assert all(changed)
    scalars = runner.message_hub.log_scalars
    assert {'train/loss_x', 'train/loss_u', 'train/mask_ratio', 'train/pseudo_acc'} <= set(scalars)
    assert scalars['train/mask_ratio'].current() == 1.0  # warm-up keeps every sample

