"""Checks shared by the checkpoint-converter tests (a sibling module of the test files).

A converter test builds a small module of its own in the OFFICIAL layout (the official key
names, shapes and forward), fills every tensor with random values (norms, running statistics
and position tables included, or a wrong mapping could hide), saves it as the authors publish
it, runs ``tools/model_converters/<name>_to_mmext.py SRC DST`` and compares our classifier's
logits with the reference's.
"""
import importlib.util
import runpy
import sys
from pathlib import Path
from typing import Callable, Dict, Optional

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
CONVERTERS = REPO / 'tools' / 'model_converters'


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Fill every parameter and buffer of ``module`` with random, non-trivial values in place.

    Weights ~ N(0, 1 / fan_in) so that activations keep their scale through depth; norm scales
    ``1 + N(0, 0.2)``, biases and running means ``N(0, 0.2)``, running variances in
    ``[0.5, 1.5]``, position embeddings and tokens ``N(0, 0.5)``; integer buffers other than
    BN's ``num_batches_tracked`` (index tables) and attention masks (derived from the shapes,
    not learned) are left as built.
    """
    gen = torch.Generator().manual_seed(seed)

    def randn(t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=gen, dtype=t.dtype)

    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            leaf = name.rsplit('.', 1)[-1]
            if leaf == 'attn_mask':
                continue
            if not t.is_floating_point():  # index tables stay; counters are data to carry
                if leaf == 'num_batches_tracked':
                    t.fill_(int(torch.randint(1, 1000, (1, ), generator=gen)))
            elif leaf == 'running_var':
                t.copy_(0.5 + torch.rand(t.shape, generator=gen, dtype=t.dtype))
            elif leaf in ('pos_embed', 'cls_token', 'dist_token') or 'position' in name:
                t.copy_(0.5 * randn(t))
            elif t.dim() >= 2:
                t.copy_(randn(t) * (t[0].numel()**-0.5))
            elif leaf == 'weight':  # norm scales
                t.copy_(1 + 0.2 * randn(t))
            else:
                t.copy_(0.2 * randn(t))
    return module


def save_deit_style(state_dict: Dict[str, torch.Tensor], path: Path, ema: bool = False) -> Path:
    """Save as DeiT's ``main.py`` does: weights under ``'model'`` beside training state, with
    ``ema`` also a differing ``'model_ema'`` copy (which the converters must not take)."""
    ckpt = dict(model=state_dict, optimizer={}, epoch=299, max_accuracy=0.)
    if ema:
        ckpt['model_ema'] = {k: v + 1 if v.is_floating_point() else v
                             for k, v in state_dict.items()}
    torch.save(ckpt, path)
    return path


def load_converter(name: str):
    """Import ``tools/model_converters/<name>.py`` (``name`` as ``kvt_to_mmext``) as a module;
    its ``from convert_utils import`` resolves from the script's folder, as when it runs."""
    if str(CONVERTERS) not in sys.path:
        sys.path.insert(0, str(CONVERTERS))
    spec = importlib.util.spec_from_file_location(f'mmext_converter_{name}',
                                                  CONVERTERS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_converter(name: str, src: Path, dst: Path) -> dict:
    """Run ``tools/model_converters/<name>_to_mmext.py SRC DST`` as its command line does and
    return the saved checkpoint."""
    argv, path = sys.argv, list(sys.path)
    sys.argv = [f'{name}_to_mmext.py', str(src), str(dst)]
    sys.path.insert(0, str(CONVERTERS))
    try:
        runpy.run_path(str(CONVERTERS / f'{name}_to_mmext.py'), run_name='__main__')
    finally:
        sys.argv, sys.path[:] = argv, path
    return torch.load(dst, map_location='cpu')


def converter_error(name: str, src: Path, dst: Path) -> str:
    """The message with which the converter stops on ``src``."""
    with pytest.raises(SystemExit) as err:
        run_converter(name, src, dst)
    assert not dst.exists()
    return str(err.value)


def build_classifier(config: str, **backbone) -> nn.Module:
    """The model of an mmpretrain config of this repository (backbone overrides applied)."""
    cfg = Config.fromfile(str(REPO / config))
    cfg.model.backbone.update(backbone)
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    return MODELS.build(cfg.model)


def assert_logits_close(ours: torch.Tensor, ref: torch.Tensor, rtol: float = 1e-5) -> None:
    """``|ours - ref| / |ref| <= rtol`` (Frobenius norms), on logits that are not trivial."""
    assert ours.shape == ref.shape
    assert ref.std() > 0.1, 'reference logits nearly constant: the check would be weak'
    err = ((ours - ref).norm() / ref.norm()).item()
    assert err <= rtol, f'relative logit difference {err:.2e} > {rtol:.0e}'


def check_round_trip(name: str, official: nn.Module, config: str, inputs: torch.Tensor,
                     tmp_path: Path, variant: str, backbone: Optional[dict] = None,
                     dtype: torch.dtype = torch.float32) -> dict:
    """Randomised ``official`` -> DeiT-style file -> converter -> our classifier built from
    ``config`` (``strict=True``) -> equal logits. Returns the converted checkpoint."""
    randomize_(official).eval()
    src = save_deit_style(official.state_dict(), tmp_path / 'official.pth', ema=True)
    ckpt = run_converter(name, src, tmp_path / 'converted.pth')
    assert ckpt['meta']['variant'] == variant
    ours = build_classifier(config, **(backbone or {}))
    ours.load_state_dict(ckpt['state_dict'], strict=True)
    ours.eval().to(dtype)
    with torch.no_grad():
        ref = official.to(dtype)(inputs.to(dtype))
        out = ours(inputs.to(dtype), mode='tensor')
    assert_logits_close(out, ref)
    return ckpt


def check_layout_fits_config(name: str, build_official: Callable[[], nn.Module], config: str,
                             variant: str) -> None:
    """The converter's ``convert`` detects ``variant`` and gives exactly the keys and shapes of
    ``config``'s classifier (both models on the meta device: layout only, no data, fast)."""
    with torch.device('meta'):
        official = build_official().state_dict()
        ours = build_classifier(config).state_dict()
    state_dict, detected = load_converter(f'{name}_to_mmext').convert(official)
    assert detected == variant
    assert {k: v.shape for k, v in state_dict.items()} == {k: v.shape for k, v in ours.items()}


def check_edited_checkpoint_fails(name: str, state: Dict[str, torch.Tensor],
                                  edit: Callable[[dict], object], message: str,
                                  tmp_path: Path) -> None:
    """After ``edit(state)`` the converter stops with ``message`` in its error."""
    edit(state)
    src = save_deit_style(state, tmp_path / 'official.pth')
    assert message in converter_error(name, src, tmp_path / 'converted.pth')


def check_init_refuses(build: Callable[..., nn.Module], checkpoint: Path, match: str,
                       prefix: Optional[str] = 'backbone.') -> None:
    """``build(init_cfg=Pretrained checkpoint)`` stops at ``init_weights`` with ``match``."""
    backbone = build(init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint), prefix=prefix))
    with pytest.raises(ValueError, match=match):
        backbone.init_weights()
