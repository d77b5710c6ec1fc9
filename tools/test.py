"""Evaluate a checkpoint on a config's test set (classification, detection or segmentation).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show-dir DIR]
                                           [--no-strict] [--tta] [--cfg-options k=v ...]
                                           [--launcher ...]

The checkpoint must fit the model exactly (a checkpoint of another model stops with the first
mismatched keys); ``--no-strict`` evaluates with the matching weights only.

``--tta`` evaluates with test-time augmentation, as the hosts' own tools/test.py: the config's
``tta_model`` and ``tta_pipeline``; for classification configs without them, the average of the
scores of the image and of its horizontal flip (mmpretrain's default).

``--show-dir`` draws predictions through the host's own visualization hook (mmpretrain
VisualizationHook, mmdet DetVisualizationHook, mmseg SegVisualizationHook).
"""
import argparse
import copy
import os.path as osp

from mmengine.evaluator import DumpResults
from mmengine.config import ConfigDict
from mmengine.model import BaseTTAModel, is_model_wrapper

import mmext  # noqa: F401  (registers every mmext part)
from mmext.engine import setup_cpu_distributed, shutdown_distributed
from mmext.engine.checkpoint_loader import CheckpointError, check_checkpoint_matches
from mmext.utils import (ConfigError, build_runner, check_data_roots, exit_on_user_error,
                         load_config, parse_tool_args, set_work_dir,
                         silence_known_warnings)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation log')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument('--show-dir', help='write drawn predictions into this folder '
                        '(relative paths are inside the run\'s log folder)')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument('--no-strict', action='store_true',
                        help='load the checkpoint even if some keys are missing, unexpected or '
                        'of another shape (they are logged)')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: the config\'s tta_model / tta_pipeline '
                        '(classification default: average over the image and its flip)')
    return parse_tool_args(parser, argv)


def enable_tta(cfg):
    """Wrap the model in the config's ``tta_model`` and test on ``tta_pipeline``."""
    if cfg.get('default_scope', 'mmpretrain') == 'mmpretrain':
        cfg.setdefault('tta_model', dict(type='mmpretrain.AverageClsScoreTTA'))
        if 'tta_pipeline' not in cfg:
            pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
            # every view runs the test pipeline, then is flipped or not, then packed
            pipeline[-1] = dict(type='TestTimeAug', transforms=[
                [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                [pipeline[-1]]])
            cfg.tta_pipeline = pipeline
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise ConfigError(f'--tta needs {" and ".join(missing)} in the config.')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


VISUALIZATION_HOOKS = dict(
    mmpretrain='VisualizationHook', mmdet='DetVisualizationHook', mmseg='SegVisualizationHook')


def enable_visualization(cfg, args):
    """Switch on the host visualization hook; each host spells its options differently."""
    scope = cfg.get('default_scope', 'mmpretrain')
    if 'visualization' not in cfg.default_hooks:
        cfg.default_hooks.visualization = dict(type=VISUALIZATION_HOOKS[scope])
    hook = cfg.default_hooks.visualization
    hook.interval = 1  # draw every test image, not one in `interval`
    if scope == 'mmpretrain':
        hook.update(enable=True, show=args.show, wait_time=args.wait_time)
        if args.show_dir:
            hook.out_dir = args.show_dir
    else:  # mmdet DetVisualizationHook / mmseg SegVisualizationHook
        hook.update(draw=True, show=args.show, wait_time=args.wait_time)
        if args.show_dir and scope == 'mmdet':
            hook.test_out_dir = args.show_dir
        elif args.show_dir:
            cfg.visualizer.save_dir = args.show_dir
            # mmseg names its visualizer 'visualizer': an instance of that name created earlier in
            # the process (e.g. by a training runner) would be reused with its own save_dir.
            cfg.visualizer.pop('name', None)
            cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]


def main(argv=None):
    silence_known_warnings()
    args = parse_args(argv)
    with exit_on_user_error(args.traceback):
        cfg = load_config(args.config, args.cfg_options)
        cfg.launcher = args.launcher
        cfg.load_from = args.checkpoint
        if not osp.isfile(args.checkpoint):
            raise ConfigError(f'Checkpoint "{args.checkpoint}" does not exist.')
        set_work_dir(cfg, args.work_dir, args.config)
        if args.tta:
            enable_tta(cfg)
        if args.show or args.show_dir:
            enable_visualization(cfg, args)
        check_data_roots(cfg, ['test_dataloader'])
        setup_cpu_distributed(cfg)
        runner = build_runner(cfg)
        if not args.no_strict:
            model = runner.model
            while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
                model = model.module
            try:
                check_checkpoint_matches(model, args.checkpoint)
            except CheckpointError as err:
                raise ConfigError(f'{err} Pass --no-strict to evaluate with the matching '
                                  'weights only.') from err
        if args.out:
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
        metrics = runner.test()
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    main()
