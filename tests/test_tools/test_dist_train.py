"""Two CPU processes train through tools/dist_train.sh (torchrun + gloo)."""
import os
import subprocess
import sys

import torch


def test_two_process_cpu_training(tmp_path, tiny_fashion_mnist):
    work_dir = tmp_path / 'dist'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517', OMP_NUM_THREADS='1')
    cmd = [
        'bash', 'tools/dist_train.sh', 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py',
        '2', '--work-dir', str(work_dir), '--cfg-options',
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
        'train_dataloader.dataset.indices=64', f'train_dataloader.dataset.data_root={tiny_fashion_mnist}',
        f'val_dataloader.dataset.data_root={tiny_fashion_mnist}',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.persistent_workers=False'
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    # 64 samples split over 2 ranks, 8 per rank per step: 4 iterations
    assert ckpt['meta']['iter'] == 4
    log = '\n'.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 'world_size: 2' in log or 'Distributed launcher: pytorch' in log
