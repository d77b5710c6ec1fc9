"""Train a classification, detection or segmentation model from a config (mmengine Runner).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
                                 [--traceback]

Every run gets three hooks unless its config already names them: mmext.CheckInvalidLossHook
(stop at the first nan / inf loss, naming the iteration and the terms, before anything is saved),
mmext.RankAverageLossHook (multi-process runs log losses averaged over ranks) and
mmext.EpochSeedHook (every epoch's random numbers depend on the seed and the epoch only, so a
resumed run ends with the same weights as an uninterrupted one).
"""
import argparse
import sys

import mmext  # noqa: F401  (registers every mmext part)
from mmext.engine import setup_cpu_distributed, shutdown_distributed
from mmext.utils import (ConfigError, build_runner, check_data_roots, drop_schedulers_after_run,
                         exit_on_user_error, load_config, parse_tool_args, set_work_dir,
                         silence_known_warnings)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in work_dir when no '
        'path is given')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr by actual batch size / auto_scale_lr.base_batch_size')
    parser.add_argument('--no-pin-memory', action='store_true', help='disable pin_memory')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers')
    return parse_tool_args(parser, argv)


def merge_args(cfg, args):
    """Apply command-line options to the config, as mmpretrain/mmdet's train.py do."""
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir, args.config)

    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    add_default_hooks(cfg)
    for line in drop_schedulers_after_run(cfg):
        print(f'warning: {line}', file=sys.stderr)

    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None

    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
            raise ConfigError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config.')
        cfg.auto_scale_lr.enable = True

    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            if args.no_pin_memory:
                cfg[loader]['pin_memory'] = False
            if args.no_persistent_workers:
                cfg[loader]['persistent_workers'] = False
    return cfg


# hooks every training run gets (a config may set its own with other arguments)
DEFAULT_HOOKS = [dict(type='mmext.CheckInvalidLossHook', interval=1),
                 dict(type='mmext.RankAverageLossHook'), dict(type='mmext.EpochSeedHook')]


def add_default_hooks(cfg):
    hooks = list(cfg.get('custom_hooks') or [])
    named = {str(hook.get('type', '')).split('.')[-1] for hook in hooks}
    cfg.custom_hooks = hooks + [
        hook for hook in DEFAULT_HOOKS if hook['type'].split('.')[-1] not in named]


def main(argv=None):
    silence_known_warnings()
    args = parse_args(argv)
    with exit_on_user_error(args.traceback):
        cfg = merge_args(load_config(args.config, args.cfg_options), args)
        loaders = ['train_dataloader'] + ([] if args.no_validate else ['val_dataloader'])
        check_data_roots(cfg, loaders)
        setup_cpu_distributed(cfg)
        # Models are built here, datasets and hooks lazily in train(): both can name a bad type.
        build_runner(cfg).train()
    shutdown_distributed()


if __name__ == '__main__':
    main()
