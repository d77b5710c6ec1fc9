"""The sharded instance classifier trains through tools/dist_train.sh (2 CPU processes, gloo)."""
import torch

# sibling module of this file (pytest puts this folder on sys.path)
from test_dist_train import run_two_processes

CONFIG = 'configs/instance_classifier/instcls_resnet8-w16_1xb128-20e_fashionmnist.py'


def test_two_process_sharded_classifier(tmp_path, tiny_fashion_mnist, free_port):
    work_dir = tmp_path / 'dist'
    run_two_processes('dist_train.sh', [CONFIG, '2', '--work-dir', str(work_dir)],
                      tiny_fashion_mnist, free_port, [
                          'train_cfg.max_epochs=1', 'train_dataloader.batch_size=4',
                          'train_dataloader.dataset.indices=16',
                          'model.head.num_instances=16',
                          f'val_cfg.bank_dataloader.dataset.data_root={tiny_fashion_mnist}'])
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2  # 16 images, 2 ranks x 4 per step
    # each rank held 8 of the 16 classes; the checkpoint holds all of them
    weight = ckpt['state_dict']['head.fc.weight']
    assert weight.shape == (16, 32)
    assert (weight[:8] != weight[8:]).any()
    log = '\n'.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 'knn/top1' in log
