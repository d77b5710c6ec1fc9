"""The config snippets of README.md's "Use mmext in your own project" build and run a forward.

Every ```python block of that section starts with ``# HOST: file name``; the block is written to
a project folder next to a link to this checkout (as the README describes), loaded with
mmengine's Config, built in the host's registry and run once on a small input.
"""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
SECTION = '## Use mmext in your own project'


def snippets():
    text = (REPO / 'README.md').read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index('\n## ', len(SECTION))]
    blocks = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    assert len(blocks) >= 4, 'the README section lost its config snippets'
    return blocks


def host_models(host):
    import importlib
    return importlib.import_module(f'{host}.registry').MODELS


@pytest.mark.parametrize('index', range(len(snippets())))
def test_readme_snippet_builds_and_runs(index, tmp_path):
    block = snippets()[index]
    host, name = re.match(r'# (\w+): (?:\S*/)?(\S+\.py)', block).groups()
    project = tmp_path / 'my_project'
    (project / 'configs').mkdir(parents=True)
    (project / 'mmext').symlink_to(REPO)
    path = project / 'configs' / name
    path.write_text(block)
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == host
    init_default_scope(host)
    import mmext  # noqa: F401  (custom_imports is applied by the host's runner)
    model = host_models(host).build(cfg.model)
    model.init_weights()
    model.eval()  # mmseg's heads use SyncBN, which runs on one CPU process in eval mode only
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), mode='tensor')
    flat = [out] if isinstance(out, torch.Tensor) else [
        t for group in (out if isinstance(out, (list, tuple)) else [out])
        for t in (group if isinstance(group, (list, tuple)) else [group])]
    assert flat and all(torch.isfinite(t).all() for t in flat)
    if 'train_dataloader' in cfg and 'nuclei' in str(cfg.train_dataloader.dataset.data_root):
        # the dataset base found the data of this checkout, not of the working directory
        assert Path(cfg.train_dataloader.dataset.data_root).resolve() == (
            REPO / 'data' / 'nuclei').resolve()
