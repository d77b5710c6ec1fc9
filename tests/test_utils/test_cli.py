"""Tests of the command-line helpers shared by tools/train.py and tools/test.py."""
import argparse
import os

import pytest
from mmengine.config import Config

from mmext.utils import ConfigError, exit_on_user_error, parse_tool_args, set_work_dir


def test_parse_tool_args_adds_shared_options(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '')  # recorded, so the value set below is undone after
    monkeypatch.delenv('LOCAL_RANK')
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    args = parse_tool_args(parser, [
        'a.py', '--cfg-options', 'train_cfg.max_epochs=2', 'model.x=[1,2]', '--launcher',
        'pytorch', '--local-rank', '3'
    ])
    assert args.config == 'a.py' and args.launcher == 'pytorch'
    assert args.cfg_options == {'train_cfg.max_epochs': 2, 'model.x': [1, 2]}
    assert os.environ['LOCAL_RANK'] == '3'  # exported for mmengine's launcher
    defaults = parse_tool_args(argparse.ArgumentParser(), [])
    assert defaults.launcher == 'none' and defaults.cfg_options is None
    with pytest.raises(SystemExit):  # argparse rejects an unknown launcher
        parse_tool_args(argparse.ArgumentParser(), ['--launcher', 'ssh'])


@pytest.mark.parametrize('given, in_config, expected', [
    ('work_dirs/mine', None, 'work_dirs/mine'),
    ('work_dirs/mine', 'work_dirs/cfg', 'work_dirs/mine'),
    (None, 'work_dirs/cfg', 'work_dirs/cfg'),
    (None, None, os.path.join('./work_dirs', 'resnet18_fashionmnist')),
])
def test_set_work_dir(given, in_config, expected):
    cfg = Config(dict(work_dir=in_config) if in_config else {})
    set_work_dir(cfg, given, 'configs/x/resnet18_fashionmnist.py')
    assert cfg.work_dir == expected


def test_exit_on_user_error():
    with pytest.raises(SystemExit, match='^error: Config file "x.py" does not exist.$'):
        with exit_on_user_error():
            raise ConfigError('Config file "x.py" does not exist.')
    with pytest.raises(SystemExit, match=r'^error: Unknown type "ResNett".*Did you mean'):
        with exit_on_user_error():
            raise KeyError('ResNett is not in the mmpretrain::model registry. Please check '
                           'whether the value of `ResNett` is correct or it was registered '
                           'as expected.')
    with pytest.raises(KeyError, match='plain'):  # other errors keep their traceback
        with exit_on_user_error():
            raise KeyError('plain')
    with exit_on_user_error():  # no error: nothing happens
        pass
