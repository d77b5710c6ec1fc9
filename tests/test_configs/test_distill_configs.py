"""Paper-mirror distillation configs build (with a dummy forward of student and teacher) and the
small nuclei / Fashion-MNIST configs train a few iterations."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import mmext  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

# config -> student parameters (M) of the host model (ResNet-18, DeiT-Tiny, RetinaNet-R50,
# PSPNet-R18)
PAPER_CONFIGS = {
    'configs/nkd/nkd_resnet34-resnet18_8xb32_in1k.py': 11.69,
    'configs/nkd/tf-nkd_resnet18_8xb32_in1k.py': 11.69,
    'configs/mgd/mgd_resnet34-resnet18_8xb32_in1k.py': 11.69,
    'configs/vitkd/vitkd-nkd_deit3-small-deit-tiny_4xb256_in1k.py': 5.72,
    'configs/mgd/mgd_retinanet_x101-64x4d-r50_fpn_2x_coco.py': 37.97,
    'configs/mgd/mgd_pspnet_r101-r18-d8_4xb2-40k_cityscapes-512x1024.py': 12.79,
}


def build(cfg: Config, input_size: int):
    init_default_scope(cfg.default_scope)
    # paper teachers come from URLs: no download here, random weights, explicitly allowed
    cfg.model.teacher_ckpt = None
    cfg.model.allow_untrained_teacher = True
    cfg.model.input_shape = (3, input_size, input_size)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('path,params', PAPER_CONFIGS.items())
def test_paper_configs_build_and_forward(path, params):
    cfg = Config.fromfile(str(REPO / path))
    assert cfg.custom_imports.imports == ['mmext']
    size = 32 if 'pspnet' in path else 64
    model = build(cfg, size)  # runs one no_grad forward of student and teacher
    n = sum(p.numel() for p in model.student.parameters()) / 1e6
    assert n == pytest.approx(params, abs=0.01)
    if cfg.default_scope == 'mmpretrain':
        from mmpretrain.structures import DataSample
        model.train()
        inputs = torch.randn(2, 3, size, size)
        samples = [DataSample().set_gt_label(i) for i in range(2)]
        losses = model(inputs, samples, mode='loss')
        names = {item.name for item in model.distill_items}
        assert any(k.startswith(tuple(names)) for k in losses)
        assert all(torch.isfinite(v) for v in losses.values())


def test_paper_teacher_checkpoint_is_required():
    cfg = Config.fromfile(str(REPO / 'configs/nkd/nkd_resnet34-resnet18_8xb32_in1k.py'))
    init_default_scope('mmpretrain')
    cfg.model.teacher_ckpt = 'work_dirs/no/such/teacher.pth'
    with pytest.raises(FileNotFoundError, match='teacher.pth'):
        MODELS.build(cfg.model)


def _train_a_few_iters(cfg: Config, tmp_path: Path) -> dict:
    from mmengine.runner import Runner
    init_default_scope(cfg.default_scope)
    teacher = MODELS.build(mmext.models.distillers.model_cfg_from(cfg.model.teacher))
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg.model.teacher_ckpt = str(ckpt)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.train_dataloader.dataset.indices = 4
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.param_scheduler = []
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.message_hub.log_scalars


def test_nuclei_detection_distill_trains(tmp_path, nuclei_root):
    cfg = Config.fromfile(str(REPO / 'configs/mgd/mgd_retinanet_r18-w32_fpn_40e_nuclei.py'))
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=100)
    logged = _train_a_few_iters(cfg, tmp_path)
    assert {f'train/loss_mgd_fpn_{i}' for i in range(5)} <= set(logged)
    assert {'train/loss_cls', 'train/loss_bbox'} <= set(logged)


def test_nuclei_segmentation_distill_trains(tmp_path, nuclei_root):
    cfg = Config.fromfile(str(REPO / 'configs/mgd/mgd-cwd_fcn_unet-s4-w16_600iter_nuclei.py'))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    logged = _train_a_few_iters(cfg, tmp_path)
    assert {'train/loss_mgd', 'train/loss_cwd', 'train/decode.loss_ce'} <= set(logged)


# config -> student parameters (M)
FASHION_CONFIGS = {
    'configs/nkd/nkd_resnet18-w16-w8_1xb128-1e_fashionmnist.py': 0.18,
    'configs/nkd/tf-nkd_resnet18-w8_1xb128-1e_fashionmnist.py': 0.18,
    'configs/mgd/mgd_resnet18-w16-w8_1xb128-1e_fashionmnist.py': 0.18,
    'configs/vitkd/vitkd-nkd_vit-w64-w32_1xb128-3e_fashionmnist.py': 0.04,
}


def _with_random_teacher(cfg: Config, tmp_path: Path) -> Config:
    init_default_scope(cfg.default_scope)
    if cfg.model.get('teacher') is not None:
        teacher = MODELS.build(mmext.models.distillers.model_cfg_from(cfg.model.teacher))
        ckpt = tmp_path / 'teacher.pth'
        torch.save(dict(state_dict=teacher.state_dict()), ckpt)
        cfg.model.teacher_ckpt = str(ckpt)
    return cfg


@pytest.mark.parametrize('path,params', FASHION_CONFIGS.items())
def test_fashionmnist_configs_build_and_loss(path, params, tmp_path):
    from mmpretrain.structures import DataSample
    cfg = _with_random_teacher(Config.fromfile(str(REPO / path)), tmp_path)
    model = MODELS.build(cfg.model)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([72.94])
    student = sum(p.numel() for p in model.student.parameters()) / 1e6
    assert student == pytest.approx(params, abs=0.01)
    losses = model(torch.randn(2, 1, 28, 28), [DataSample().set_gt_label(i) for i in range(2)],
                   mode='loss')
    for item in model.distill_items:
        assert any(k.startswith(item.name) for k in losses), item.name


def test_kcd_fashionmnist_config_condenses(tmp_path, fashion_mnist_root):
    from mmengine.runner import Runner
    cfg = Config.fromfile(
        str(REPO / "configs/kcd/kcd-nkd_resnet18-w16-w8_1xb128-4e_fashionmnist.py"))
    cfg = _with_random_teacher(cfg, tmp_path)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=8)
    cfg.train_dataloader.dataset.indices = 40
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    # 40 -> 38 after epoch 1 (int(5% of the set), the official truncation), nothing after the
    # last epoch
    assert len(runner.train_dataloader.sampler.kept_indices) == 38
