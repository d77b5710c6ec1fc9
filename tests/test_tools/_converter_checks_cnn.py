"""Round trip shared by the PSLT / SuperViT / GENet / ZenNet converter tests.

A reference module written in the official layout gets random weights everywhere (norm scales,
running statistics and position tables included, so a wrong mapping cannot hide behind an
identity), is saved as its authors publish it, converted with the command-line script and loaded
with ``strict=True`` into the classifier of our config; both must give the same logits.
"""
import contextlib
import io
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401
from _converter_checks import REPO as ROOT, load_converter, randomize_  # noqa: F401


def randomized(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in eval mode after :func:`randomize_` (a reference for one test module)."""
    randomize_(model)
    return model.eval()


class NetBlock(torch.nn.Module):
    """The idstcv PlainNet wrapper (GENet, ZenNet): the layer is stored as ``.netblock``."""

    def __init__(self, netblock: torch.nn.Module) -> None:
        super().__init__()
        self.netblock = netblock

    def forward(self, x):
        return self.netblock(x)


class PlainNetReference(torch.nn.Module):
    """An idstcv PlainNet classifier: ``module_list`` in order, global average pool,
    ``fc_linear``."""

    def forward(self, x):
        for block in self.module_list:
            x = block(x)
        return self.fc_linear(x.mean((2, 3)))


def build_classifier(config: str, **model_overrides) -> torch.nn.Module:
    """The ``model`` of ``configs/<config>`` built through mmpretrain's registry, in eval mode."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(ROOT / 'configs' / config))
    cfg.model.update(model_overrides)
    return MODELS.build(cfg.model).eval()


def convert_file(tmp_path, converter: str, state_dict: dict, wrapper: str) -> tuple:
    """Save ``state_dict`` as published (``{wrapper: state_dict}``, or bare when ``wrapper`` is
    empty) and run the converter's command line on it; returns (output path, printed line)."""
    src, dst = tmp_path / 'official.pth', tmp_path / 'mmext.pth'
    torch.save({wrapper: state_dict} if wrapper else state_dict, src)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        script = load_converter(converter)
        script.converter_main(script.convert, script.__doc__, [str(src), str(dst)])
    return dst, out.getvalue()


def assert_same_logits(model: torch.nn.Module, reference: torch.nn.Module,
                       inputs: torch.Tensor) -> None:
    """Our classifier's logits equal the reference's (max error <= 1e-5 of the largest logit),
    and the random weights give input-dependent, non-constant logits (or the check is void)."""
    with torch.no_grad():
        expected = reference.eval()(inputs)
        logits = model.eval()(inputs, mode='tensor')
    assert logits.shape == expected.shape
    scale = expected.abs().max()
    err = (logits - expected).abs().max() / scale
    assert err <= 1e-5, f'relative logit error {err:.2e}'
    assert expected.std(dim=1).min() > 1e-3 * scale
    assert (expected[0] - expected[1]).abs().max() > 1e-3 * scale


def convert_and_compare(tmp_path, converter: str, reference: torch.nn.Module, wrapper: str,
                        config: str, inputs: torch.Tensor, **model_overrides) -> tuple:
    """Convert ``reference`` (see :func:`convert_file`), load the result strictly into the
    classifier of ``configs/<config>`` and :func:`assert_same_logits`.

    Returns (our loaded classifier, the converter's printed line).
    """
    dst, report = convert_file(tmp_path, converter, reference.state_dict(), wrapper)
    model = build_classifier(config, **model_overrides)
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    assert_same_logits(model, reference, inputs)
    return model, report
