"""mmext parts build as type='mmext.Name' from every host scope and through custom_imports."""
import subprocess
import sys
import textwrap

import pytest
import torch.nn as nn
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.registry import BATCH_AUGMENTS, HOOKS, MODELS


@MODELS.register_module(force=True)
class _RegistryProbe(nn.Module):

    def __init__(self, width=3):
        super().__init__()
        self.width = width


@pytest.mark.parametrize('host', ['mmpretrain', 'mmdet', 'mmseg'])
def test_mmext_name_builds_under_host_scope(host):
    init_default_scope(host)
    registry = __import__(f'{host}.registry', fromlist=['MODELS']).MODELS
    probe = registry.build(dict(type='mmext._RegistryProbe', width=5))
    assert isinstance(probe, _RegistryProbe) and probe.width == 5
    # the host's own names still resolve in its scope
    assert registry.get('mmext._RegistryProbe') is _RegistryProbe


def test_registries_are_children_of_host_roots():
    from mmengine.registry import HOOKS as ROOT_HOOKS
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmpretrain.registry import BATCH_AUGMENTS as PRETRAIN_AUGMENTS
    assert MODELS.scope == 'mmext' and MODELS.parent is ROOT_MODELS
    assert HOOKS.parent is ROOT_HOOKS
    assert PRETRAIN_AUGMENTS.children['mmext'] is BATCH_AUGMENTS


def test_every_registered_part_is_documented():
    """Every public mmext model part cites its paper (or at least documents itself)."""
    for name, cls in MODELS.module_dict.items():
        if name.startswith('_'):
            continue
        assert cls.__doc__ and len(cls.__doc__.strip()) > 40, f'mmext.{name} has no docstring'


def test_custom_imports_in_a_host_project_config(tmp_path):
    """A plain mmdet project config reaches our parts through custom_imports alone."""
    cfg = tmp_path / 'host_cfg.py'
    cfg.write_text(textwrap.dedent("""
        default_scope = 'mmdet'
        custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
        loss = dict(type='mmext.NKDLoss')
    """))
    script = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        assert 'mmext' not in sys.modules
        cfg = Config.fromfile({str(cfg)!r})  # imports mmext through custom_imports
        init_default_scope(cfg.default_scope)
        from mmdet.registry import MODELS
        print(type(MODELS.build(cfg.loss)).__module__)
    """)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1].startswith('mmext.models.losses')
