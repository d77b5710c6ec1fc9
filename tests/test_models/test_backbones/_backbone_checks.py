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
    """A few AdamW steps (lr 1e-3) on ``loss_fn()``; step 1 gives every backbone parameter a grad.

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
                assert p.grad is not None and p.grad.abs().sum() > 0, name
        opt.step()
        losses.append(loss.detach())
    return losses
