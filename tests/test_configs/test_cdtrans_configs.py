"""CDTrans configs: the Fashion-MNIST demo trains 2 iterations; the DeiT-B recipes build and run."""
from pathlib import Path
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.datasets import SourceTargetPairDataset
from mmext.engine.hooks import CDTransPairHook
from mmext.models.classifiers import CDTrans

from _config_checks import build_classifier

ROOT = Path(__file__).parents[2]
CFG = ROOT / 'configs/cdtrans'
DEMO = CFG / 'cdtrans_vit-tiny-p4_1xb64-2e_fashionmnist-shift.py'


def test_demo_config_trains_two_iterations(fashion_mnist_root, tmp_path):
    cfg = Config.fromfile(DEMO)
    assert cfg.custom_imports['imports'] == ['mmext'] and cfg.default_scope == 'mmpretrain'
    cfg.work_dir = str(tmp_path)
    cfg.load_from = None
    pairs = cfg.train_dataloader.dataset
    pairs.source.indices = pairs.target.indices = 16
    pairs.epoch_length = 8
    hook = cfg.custom_hooks[0]
    hook.source.indices = hook.target.indices = 16
    assert pairs.target.pipeline[0]['type'] == 'mmext.DomainShift'
    assert hook.target.pipeline[0] == pairs.target.pipeline[0]
    cfg.train_dataloader.batch_size = 8
    cfg.train_cfg.max_epochs = 2  # 2 epochs of 1 iteration: the pairs are chosen twice
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.model, CDTrans)
    before = runner.model.backbone.layers[0].attn.qkv.weight.detach().clone()
    hook = next(h for h in runner.hooks if isinstance(h, CDTransPairHook))
    with mock.patch.object(hook, 'refresh', wraps=hook.refresh) as refresh:
        runner.train()  # 2 iterations of 8 pairs
    assert runner.iter == 2 and refresh.call_count == 2
    assert not torch.equal(before, runner.model.backbone.layers[0].attn.qkv.weight)
    ds = runner.train_dataloader.dataset
    assert isinstance(ds, SourceTargetPairDataset) and ds.num_pairs > 0
    for key in ('loss_source', 'loss_target', 'loss_distill'):
        assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar(f'train/{key}').current()))


def test_demo_arms_share_the_schedule():
    cdtrans = Config.fromfile(DEMO)
    source_only = Config.fromfile(
        CFG / 'vit-tiny-p4-bnneck_1xb64-2e_fashionmnist-shift-sourceonly.py')
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'load_from'):
        assert cdtrans[key] == source_only[key], key
    source_images = source_only.train_dataloader.dataset.indices
    assert cdtrans.train_dataloader.dataset.epoch_length == source_images
    assert cdtrans.train_dataloader.batch_size == source_only.train_dataloader.batch_size
    assert cdtrans.test_dataloader == source_only.test_dataloader
    _, model = build_classifier(CFG / 'vit-tiny-p4-bnneck_1xb64-3e_fashionmnist-source.py')
    assert not isinstance(model, CDTrans)
    # the stage-1 model's weights load into CDTrans unchanged
    _, cd = build_classifier(DEMO)
    assert set(model.state_dict()) == set(cd.state_dict())


@pytest.mark.parametrize('name, classes, lr', [
    ('cdtrans_deit-base_2xb32-40e_office-home.py', 65, 0.008),
    ('cdtrans_deit-base_2xb32-40e_visda.py', 12, 5e-5),
])
def test_deit_base_recipes_build_and_forward(name, classes, lr):
    cfg, model = build_classifier(CFG / name)
    assert isinstance(model, CDTrans) and model.backbone.embed_dims == 768
    assert len(model.backbone.layers) == 12 and model.head.num_classes == classes
    assert cfg.optim_wrapper.optimizer.lr == lr and cfg.train_cfg.max_epochs == 40
    assert cfg.optim_wrapper.clip_grad.max_norm == 1.0
    assert cfg.train_dataloader.batch_size * 2 == 64 and cfg.custom_hooks[0].interval == 10
    assert cfg.train_dataloader.dataset.type == 'mmext.SourceTargetPairDataset'
    if 'visda' in name:
        return  # the same network as Office-Home but 12 classes: built only, to keep CPU time low
    # forwarded at 64x64 (16 tokens; the ViT resizes its position embedding) to stay fast on CPU
    model.train()
    x = torch.randn(4, 3, 64, 64)
    samples = [DataSample().set_gt_label(i) for i in (0, 1)] + [
        DataSample(metainfo=dict(domain='target')).set_gt_label(i) for i in (1, 0)]
    with torch.no_grad():
        losses = model.loss(x, samples)
        assert set(losses) == {'loss_source', 'loss_target', 'loss_distill'}
        assert all(torch.isfinite(v) for v in losses.values())
        model.eval()
        assert model.predict(x[:1])[0].pred_score.shape == (classes, )


@pytest.mark.parametrize('name', ['deit-base-bnneck_1xb64-10e_office-home-source.py',
                                  'deit-base-bnneck_1xb64-20e_visda-source.py'])
def test_deit_base_source_stage_builds(name):
    cfg, model = build_classifier(CFG / name)
    assert type(model).__name__ == 'ImageClassifier'
    assert model.neck.bn.num_features == 768
    assert cfg.model.head.loss.type == 'LabelSmoothLoss'
