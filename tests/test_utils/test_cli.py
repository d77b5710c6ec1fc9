"""Tests of the command-line helpers shared by tools/train.py and tools/test.py."""
import argparse
import os
from pathlib import Path

import pytest
from mmengine.config import Config

from mmext.utils import (ConfigError, check_data_roots, drop_schedulers_after_run,
                         exit_on_user_error, parse_tool_args, set_work_dir)


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
    with pytest.raises(SystemExit, match='^error: Config file "x.py" does not exist.\n'):
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


def test_user_errors_print_one_message_and_bugs_keep_their_traceback(monkeypatch):
    from mmext.models.layers.lbc import LBCConv2d  # raises ValueError for N > M
    monkeypatch.delenv('MMEXT_TRACEBACK', raising=False)
    with pytest.raises(SystemExit) as exc:
        with exit_on_user_error():
            LBCConv2d(8, 8, 3, N=5, M=4)
    message = str(exc.value)
    assert message.startswith('error: ') and 'Traceback' not in message
    assert message.endswith('(run with --traceback or MMEXT_TRACEBACK=1 for details)')
    with pytest.raises(SystemExit, match='error: .*no_such.pth'):  # a bad path, from anywhere
        with exit_on_user_error():
            open('no_such.pth')
    from mmext.registry import MODELS
    with pytest.raises(SystemExit, match="unexpected keyword argument 'temprature'"):
        with exit_on_user_error():  # a misspelt config key
            MODELS.build(dict(type='mmext.NKDLoss', temprature=1.0))
    with pytest.raises(ValueError, match='invalid literal'):  # not ours: a bug, traceback kept
        with exit_on_user_error():
            int('x')
    with pytest.raises(ValueError):  # --traceback keeps it
        with exit_on_user_error(traceback=True):
            LBCConv2d(8, 8, 3, N=5, M=4)
    monkeypatch.setenv('MMEXT_TRACEBACK', '1')  # and so does MMEXT_TRACEBACK=1
    with pytest.raises(ValueError):
        with exit_on_user_error():
            LBCConv2d(8, 8, 3, N=5, M=4)


def test_duplicate_bases_say_what_to_inherit(tmp_path):
    cfg = tmp_path / 'retinanet_nuclei.py'
    base = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets/nuclei_detection.py'
    cfg.write_text(f"_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '{base}']\n")
    with pytest.raises(SystemExit, match='Duplicate key.*model base'):
        with exit_on_user_error():
            Config.fromfile(str(cfg))


@pytest.mark.parametrize('layout', ['missing', 'empty', 'no_labels'])
def test_missing_or_empty_data_names_the_prepare_command(tmp_path, layout):
    root = tmp_path / 'fashion_mnist'
    if layout != 'missing':
        root.mkdir()
    if layout == 'no_labels':
        for name in ('train-images-idx3-ubyte', 't10k-images-idx3-ubyte',
                     't10k-labels-idx1-ubyte'):
            (root / name).write_bytes(b'')
    cfg = Config(dict(train_dataloader=dict(
        dataset=dict(type='FashionMNIST', data_root=str(root), split='train'))))
    with pytest.raises(ConfigError, match='missing or empty') as exc:
        check_data_roots(cfg, ['train_dataloader'])
    assert 'bash tools/prepare_data.sh' in str(exc.value)
    assert 'download=True' not in str(exc.value)
    if layout == 'no_labels':
        assert 'train-labels-idx1-ubyte' in str(exc.value)


def test_schedulers_after_a_shortened_run_are_dropped():
    warmup = dict(type='LinearLR', by_epoch=True, begin=0, end=1)
    decay = dict(type='CosineAnnealingLR', by_epoch=True, begin=1)
    cfg = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=1),
                      param_scheduler=[warmup, decay]))
    lines = drop_schedulers_after_run(cfg)
    assert cfg.param_scheduler == [warmup] and 'CosineAnnealingLR begins at 1' in lines[0]
    cfg = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=3),
                      param_scheduler=[warmup, decay]))
    assert drop_schedulers_after_run(cfg) == [] and len(cfg.param_scheduler) == 2
    # iteration loops compare iteration-based begins with max_iters
    cfg = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=20), param_scheduler=[
        dict(type='LinearLR', by_epoch=False, begin=0, end=30),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=30)]))
    assert len(drop_schedulers_after_run(cfg)) == 1 and len(cfg.param_scheduler) == 1
