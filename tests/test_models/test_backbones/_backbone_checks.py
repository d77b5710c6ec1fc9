"""Checks shared by the backbone tests (imported as a sibling module of the test files).

They hold the assertions that several backbone test files make in the same way, so that each
check is written once: loading a classifier checkpoint with a ``prefix``, building a config's
model and running it, and a few training steps whose gradients reach every parameter.
"""
from pathlib import Path
from typing import Callable, Iterable, List, Optional

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import Runner


def check_pretrained_with_prefix(build: Callable[..., nn.Module], tmp_path: Path,
                                 extra_state: Optional[dict] = None) -> None:
    """A backbone loads the ``backbone.`` part of a classifier checkpoint exactly.

    Args:
        build: Builds the backbone; called with no argument, then with ``init_cfg``.
        tmp_path: Folder for the checkpoint.
        extra_state: Non-backbone entries (e.g. a head) added to the checkpoint.
    """
    src = build()
    ckpt = tmp_path / 'cls.pth'
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state.update(extra_state or {})
    torch.save({'state_dict': state}, ckpt)
    dst = build(init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    dst.init_weights()
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), k


def check_config_builds_and_runs(path: Path, scope: str) -> None:
    """The config's model builds in ``scope``, gives finite features and ``num_classes`` logits.

    Fashion-MNIST configs get a 1x28x28 input, the others 3x64x64.
    """
    cfg = Config.fromfile(str(path))
    init_default_scope(scope)
    from mmengine.registry import MODELS as ROOT
    # SyncBN needs a process group; the test runs the same layers as plain BN
    model = revert_sync_batchnorm(ROOT.build(cfg.model)).eval()
    in_ch = 1 if 'fashionmnist' in path.name else 3
    size = 28 if 'fashionmnist' in path.name else 64
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, in_ch, size, size))
    feats = feats if isinstance(feats, (tuple, list)) else [feats]
    assert all(torch.isfinite(f).all() for f in feats)
    if scope == 'mmpretrain':
        with torch.no_grad():
            logits = model(torch.randn(1, in_ch, size, size), mode='tensor')
        assert logits.shape[-1] == cfg.model.head.num_classes


def run_train_steps(backbone: nn.Module,
                    loss_fn: Callable[[], torch.Tensor],
                    extra_params: Iterable[nn.Parameter] = (),
                    steps: int = 3) -> List[torch.Tensor]:
    """A few AdamW steps (lr 1e-3) on ``loss_fn()``; step 1 gives every trainable backbone
    parameter a grad.

    Args:
        backbone: The backbone whose parameters must all get a non-zero gradient.
        loss_fn: Computes the loss from the current parameters (forward included).
        extra_params: Other trained parameters (e.g. a test head).
        steps: Number of optimizer steps.

    Returns:
        The detached loss of each step.
    """
    opt = torch.optim.AdamW(list(backbone.parameters()) + list(extra_params), lr=1e-3)
    losses = []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        if step == 0:
            for name, p in backbone.named_parameters():
                if p.requires_grad:  # not the parameters a backbone keeps fixed by design
                    assert p.grad is not None and p.grad.abs().sum() > 0, name
        opt.step()
        losses.append(loss.detach())
    return losses


def check_two_iterations(path: Path, data_root: Path, work_dir: Path) -> None:
    """Two training iterations of a Fashion-MNIST config (data under ``data_root``, batch 8)
    change every trainable weight."""
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = str(data_root)
    cfg.train_dataloader.update(batch_size=8, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.param_scheduler = None
    runner = Runner.from_cfg(cfg)
    trained = [p for p in runner.model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in trained]
    runner.train()
    assert all(not torch.equal(a, p) for a, p in zip(before, trained))


def check_train_pipeline_size(path: Path, size) -> None:
    """The config's training pipeline (after loading) turns a photo of another size into a
    ``(3, *size)`` input."""
    import numpy as np
    from mmengine.dataset import Compose
    from mmpretrain.registry import TRANSFORMS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(path))
    steps = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] != 'LoadImageFromFile']
    pipeline = Compose([TRANSFORMS.build(t) for t in steps])
    img = np.random.default_rng(0).integers(0, 255, (300, 140, 3), dtype=np.uint8)
    assert tuple(pipeline(dict(img=img))['inputs'].shape) == (3, *size)
