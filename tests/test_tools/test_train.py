"""tools/train.py and tools/test.py on the three tasks' configs, on a few real samples."""
import copy
import json
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@pytest.fixture(scope='module')
def train_py(load_tool):
    return load_tool('train.py')


@pytest.fixture(scope='module')
def eval_py(load_tool):
    return load_tool('test.py')


CLS_CFG = 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py'
DET_CFG = 'configs/baselines/retinanet_r18-w32_fpn_40e_nuclei.py'
SEG_CFG = 'configs/baselines/fcn_unet-s4-w16_600iter_nuclei.py'

FAST_LOADERS = [
    f'{loader}.{key}={value}' for loader in ('train_dataloader', 'val_dataloader',
                                             'test_dataloader')
    for key, value in (('num_workers', 0), ('persistent_workers', False))
]


def cls_options(name, data_root, epochs=1):
    return [
        f'experiment_name={name}', f'train_cfg.max_epochs={epochs}',
        'train_dataloader.batch_size=16', 'train_dataloader.dataset.indices=64',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}', 'default_hooks.logger.interval=1',
        *FAST_LOADERS
    ]


def scalars(work_dir: Path):
    """Every record of the run's scalars.json (mmengine's vis_data log)."""
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def test_classification_trains_and_tests(tmp_path, tiny_fashion_mnist, train_py, eval_py):
    work_dir = tmp_path / 'cls'
    train_py.main([CLS_CFG, '--work-dir', str(work_dir), '--cfg-options',
                     *cls_options('cls_train', tiny_fashion_mnist)])
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.is_file()
    records = scalars(work_dir)
    assert any('loss' in r for r in records)
    assert any('accuracy/top1' in r for r in records)

    metrics = eval_py.main([
        CLS_CFG, str(ckpt), '--work-dir', str(tmp_path / 'cls_test'), '--out',
        str(tmp_path / 'preds.pkl'), '--cfg-options', 'experiment_name=cls_test',
        f'test_dataloader.dataset.data_root={tiny_fashion_mnist}', *FAST_LOADERS
    ])
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    assert (tmp_path / 'preds.pkl').is_file()


_SEEN_STATES = []


@HOOKS.register_module(force=True)
class _RecordResumedState(Hook):
    """Records what the runner holds when training (re)starts, after resuming."""

    def before_train(self, runner):
        _SEEN_STATES.append(
            dict(iter=runner.iter, epoch=runner.epoch,
                 optim=copy.deepcopy(runner.optim_wrapper.state_dict())))


def test_resume_restores_iteration_and_optimizer(tmp_path, tiny_fashion_mnist, train_py):
    work_dir = tmp_path / 'resume'
    # a config inheriting the real one, adding the probe hook
    cfg = tmp_path / 'resume_cfg.py'
    cfg.write_text(f"_base_ = ['{Path(CLS_CFG).resolve()}']\n"
                   "custom_hooks = [dict(type='_RecordResumedState')]\n")
    train_py.main([CLS_CFG, '--work-dir', str(work_dir), '--cfg-options',
                     *cls_options('resume_a', tiny_fashion_mnist, epochs=1)])
    saved = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    _SEEN_STATES.clear()
    train_py.main([str(cfg), '--work-dir', str(work_dir), '--resume', '--cfg-options',
                     *cls_options('resume_b', tiny_fashion_mnist, epochs=2)])
    seen = _SEEN_STATES[0]
    assert seen['epoch'] == 1 and seen['iter'] == saved['meta']['iter'] == 4
    momentum = seen['optim']['state']
    assert momentum, 'optimizer state was not restored'
    for key, state in saved['optimizer']['state'].items():
        torch.testing.assert_close(momentum[key]['momentum_buffer'], state['momentum_buffer'])
    final = torch.load(work_dir / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert final['meta']['iter'] == 8


def test_detection_trains_and_draws_boxes(tmp_path, nuclei_root, train_py, eval_py):
    work_dir = tmp_path / 'det'
    train_py.main([
        DET_CFG, '--work-dir', str(work_dir), '--cfg-options', 'experiment_name=det_train',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'train_dataloader.dataset.indices=8',
        # two iterations leave every score near the prior: keep them all so COCO eval has boxes
        'model.test_cfg.score_thr=0.0',
        'default_hooks.logger.interval=1', *FAST_LOADERS
    ])
    records = scalars(work_dir)
    assert any('loss_cls' in r and 'loss_bbox' in r for r in records)
    assert any('coco/bbox_mAP' in r for r in records)
    show_dir = tmp_path / 'show'
    eval_py.main([
        DET_CFG, str(work_dir / 'epoch_1.pth'), '--work-dir', str(tmp_path / 'det_test'),
        '--show-dir', str(show_dir), '--cfg-options', 'experiment_name=det_test',
        'model.test_cfg.score_thr=0.0', *FAST_LOADERS
    ])
    from PIL import Image
    pictures = sorted(show_dir.rglob('*.png'))
    assert len(pictures) == 4
    assert Image.open(pictures[0]).size == (128 * 2, 128)  # ground truth | prediction


def test_segmentation_trains_and_shows_predictions(tmp_path, nuclei_root, train_py, eval_py):
    work_dir = tmp_path / 'seg'
    train_py.main([
        SEG_CFG, '--work-dir', str(work_dir), '--cfg-options', 'experiment_name=seg_train',
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4',
        'default_hooks.logger.interval=1', *FAST_LOADERS
    ])
    records = scalars(work_dir)
    assert any('decode.loss_ce' in r for r in records)
    assert any('mIoU' in r for r in records)
    show_dir = tmp_path / 'show'
    eval_py.main([
        SEG_CFG, str(work_dir / 'iter_4.pth'), '--work-dir', str(tmp_path / 'seg_test'),
        '--show-dir', str(show_dir), '--cfg-options', 'experiment_name=seg_test', *FAST_LOADERS
    ])
    from PIL import Image
    pictures = list(show_dir.rglob('*.png'))
    assert len(pictures) == 4
    assert Image.open(pictures[0]).size == (128 * 2, 128)  # ground truth | prediction


@pytest.mark.parametrize('argv, message', [
    (['configs/baselines/no_such_config.py'], 'does not exist'),
    ([CLS_CFG, '--cfg-options', 'model.backbone.type=mmext.NoSuchNet'], 'Unknown type'),
    ([CLS_CFG, '--cfg-options', 'train_dataloader.dataset.data_root=data/missing_fmnist'],
     'train_dataloader.dataset.data_root'),
])
def test_bad_input_stops_with_one_clear_message(tmp_path, argv, message, capsys, train_py):
    with pytest.raises(SystemExit) as exc:
        train_py.main(argv[:1] + ['--work-dir', str(tmp_path)] + argv[1:])
    assert message in str(exc.value)
    assert str(exc.value).startswith('error: ')


def test_missing_fashion_mnist_names_prepare_command(tmp_path, train_py):
    with pytest.raises(SystemExit) as exc:
        train_py.main([CLS_CFG, '--work-dir', str(tmp_path), '--cfg-options',
                         f'train_dataloader.dataset.data_root={tmp_path}/data/fashion_mnist'])
    assert 'python tools/dataset_converters/fashion_mnist.py' in str(exc.value)


def _saved_model(path, rename=None, reshape=None):
    """A checkpoint of CLS_CFG's model, with one key renamed and one tensor of another shape."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    state = MODELS.build(Config.fromfile(CLS_CFG).model).state_dict()
    if rename:
        state[rename[1]] = state.pop(rename[0])
    if reshape:
        state[reshape] = torch.zeros(3)
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


def test_test_tool_loads_strictly(tmp_path, tiny_fashion_mnist, eval_py):
    args = ['--work-dir', str(tmp_path / 'test'), '--cfg-options', 'experiment_name=strict',
            f'test_dataloader.dataset.data_root={tiny_fashion_mnist}', *FAST_LOADERS]
    other = _saved_model(tmp_path / 'other.pth', rename=('head.fc.weight', 'head.linear.weight'),
                         reshape='head.fc.bias')
    with pytest.raises(SystemExit) as exc:
        eval_py.main([CLS_CFG, str(other), *args])
    message = str(exc.value)
    assert 'does not match the model' in message and str(other) in message
    assert 'missing in the checkpoint: head.fc.weight' in message
    assert 'not in the model: head.linear.weight' in message
    assert 'head.fc.bias (3,) vs model (10,)' in message and '--no-strict' in message
    # --no-strict evaluates with the matching weights
    metrics = eval_py.main([CLS_CFG, str(other), '--no-strict', *args])
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0


def test_test_tool_flip_tta_averages_the_two_views(tmp_path, tiny_fashion_mnist, eval_py):
    """--tta on a classification config without tta settings: each test image's score is the
    mean of the model's softmax scores on the image and on its horizontal flip."""
    import pickle

    from mmengine.config import Config
    from mmpretrain.registry import DATASETS, MODELS
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    ckpt = _saved_model(tmp_path / 'model.pth')
    out = tmp_path / 'tta.pkl'
    root = f'test_dataloader.dataset.data_root={tiny_fashion_mnist}'
    eval_py.main([CLS_CFG, str(ckpt), '--tta', '--out', str(out), '--work-dir',
                  str(tmp_path / 'tta'), '--cfg-options', root, *FAST_LOADERS])
    scores = torch.stack([torch.as_tensor(p['pred_score']) for p in pickle.loads(out.read_bytes())])

    cfg = Config.fromfile(CLS_CFG)
    # the runner builds the model with the config's top-level data_preprocessor (mmpretrain)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor)).eval()
    model.load_state_dict(torch.load(ckpt)['state_dict'])
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=str(tiny_fashion_mnist)))
    images = torch.stack([dataset[i]['inputs'] for i in range(len(dataset))])

    def predict(inputs):
        samples = [DataSample() for _ in range(len(inputs))]
        with torch.no_grad():
            return torch.stack([s.pred_score for s in model.test_step(
                dict(inputs=list(inputs), data_samples=samples))])

    expected = (predict(images) + predict(images.flip(-1))) / 2
    assert scores.shape == (128, 10)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-5)
    # the flip matters: one view alone is off by 10x the tolerance above (random weights give
    # near-uniform scores, hence the small scale)
    assert (predict(images) - expected).abs().max() > 1e-4


@pytest.mark.parametrize('config, missing', [
    (DET_CFG, 'tta_model and tta_pipeline'), (SEG_CFG, 'tta_pipeline')])
def test_tta_without_settings_names_the_missing_keys(config, missing, eval_py):
    """Detection / segmentation have no default TTA: --tta stops before the runner is built."""
    from mmext.utils import ConfigError, load_config
    with pytest.raises(ConfigError, match=f'--tta needs {missing} in the config'):
        eval_py.enable_tta(load_config(config, None))


def test_unreadable_checkpoint_is_named(tmp_path, tiny_fashion_mnist, eval_py):
    good = _saved_model(tmp_path / 'good.pth')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:good.stat().st_size // 2])
    with pytest.raises(SystemExit) as exc:
        eval_py.main([CLS_CFG, str(truncated), '--work-dir', str(tmp_path / 'test'),
                      '--cfg-options', f'test_dataloader.dataset.data_root={tiny_fashion_mnist}',
                      *FAST_LOADERS])
    assert f'Checkpoint "{truncated}" cannot be read' in str(exc.value)
    assert 'truncated' in str(exc.value)


KNOWN_WARNINGS = ('pkg_resources', 'not writable', 'FileClient', 'file_client_args',
                  'HardDiskBackend')


def test_diverging_run_stops_at_the_first_nan(tmp_path, tiny_fashion_mnist):
    """lr=1e6: the run stops at the first non-finite loss with one message, saves nothing, and
    the known third-party warnings are not printed."""
    import os
    import subprocess
    import sys
    work_dir = tmp_path / 'nan'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(Path.cwd()))
    env.pop('MMEXT_TRACEBACK', None)
    out = subprocess.run([
        sys.executable, 'tools/train.py', CLS_CFG, '--work-dir', str(work_dir), '--cfg-options',
        'optim_wrapper.optimizer.lr=1e6', *cls_options('nan', tiny_fashion_mnist, epochs=3)
    ], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()
    error = next(line for line in last if line.startswith('error: '))
    assert 'non-finite loss at iteration' in error and 'loss=' in error
    assert 'Traceback' not in out.stderr
    assert not list(work_dir.glob('*.pth')), 'a diverged state was saved'
    assert not [w for w in KNOWN_WARNINGS if w in out.stderr + out.stdout], out.stderr[-3000:]
