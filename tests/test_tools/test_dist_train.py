"""Two CPU processes train and test through tools/dist_train.sh / dist_test.sh (torchrun + gloo)."""
import os
import subprocess
import sys

import torch

CONFIG = 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py'
LOADER_OPTIONS = ['num_workers=0', 'persistent_workers=False']


def run_two_processes(script, args, data_root, port, options=()):
    env = dict(os.environ, PYTHON=sys.executable, PORT=port, OMP_NUM_THREADS='1')
    loaders = ['train_dataloader', 'val_dataloader', 'test_dataloader']
    options = [*options, *(f'{loader}.{opt}' for loader in loaders for opt in LOADER_OPTIONS)]
    options += [f'{loader}.dataset.data_root={data_root}' for loader in loaders]
    out = subprocess.run(['bash', f'tools/{script}', *args, '--cfg-options', *options],
                         env=env, capture_output=True, text=True, timeout=600)
    # Both ranks must exit cleanly: a rank that leaves the gloo group open can abort at exit.
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'terminate called' not in out.stderr


def test_two_process_cpu_training_and_test(tmp_path, tiny_fashion_mnist, free_port):
    work_dir = tmp_path / 'dist'
    run_two_processes('dist_train.sh', [CONFIG, '2', '--work-dir', str(work_dir)],
                      tiny_fashion_mnist, free_port, ['train_cfg.max_epochs=1',
                                                      'train_dataloader.batch_size=8',
                                                      'train_dataloader.dataset.indices=64'])
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    # 64 samples split over 2 ranks, 8 per rank per step: 4 iterations
    assert ckpt['meta']['iter'] == 4
    log = '\n'.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 'world_size: 2' in log or 'Distributed launcher: pytorch' in log

    test_dir = tmp_path / 'dist_test'
    run_two_processes('dist_test.sh',
                      [CONFIG, str(work_dir / 'epoch_1.pth'), '2', '--work-dir', str(test_dir)],
                      tiny_fashion_mnist, free_port)
    logs = list(test_dir.glob('*/*.log'))
    assert logs and 'accuracy/top1' in logs[0].read_text()
