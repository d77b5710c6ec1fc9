"""tools/train_distill.py trains a missing teacher, then the student with it (tiny runs)."""
import json

import pytest

CFG = 'configs/nkd/nkd_resnet18-w16-w8_1xb128-1e_fashionmnist.py'


def tiny(data_root, name):
    return [f'experiment_name={name}', 'train_cfg.max_epochs=1', 'train_dataloader.batch_size=16',
            'train_dataloader.dataset.indices=32', f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}', 'default_hooks.logger.interval=1',
            *(f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader')
              for key in ('num_workers=0', 'persistent_workers=False'))]


def test_teacher_then_student(tmp_path, tiny_fashion_mnist, load_tool):
    tool = load_tool('train_distill.py')
    teacher_dir = tmp_path / 'teacher'
    tool.main([CFG, '--work-dir', str(tmp_path / 'student'),
               '--teacher-cfg-options', *tiny(tiny_fashion_mnist, 'teacher'),
               '--cfg-options', f'model.teacher_ckpt={teacher_dir}/epoch_2.pth',
               *tiny(tiny_fashion_mnist, 'student')])
    # the teacher ran for the one epoch asked, and the student loaded its last checkpoint
    assert (teacher_dir / 'epoch_1.pth').is_file()
    assert (tmp_path / 'student' / 'epoch_1.pth').is_file()
    scalars = next((tmp_path / 'student').glob('*/vis_data/scalars.json'))
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    train = [r for r in records if 'loss_nkd' in r]
    assert train, 'the student run logged no distillation term'
    for record in train:  # `loss` is the optimised total, each term logged beside it
        assert record['loss'] == pytest.approx(record['loss_student'] + record['loss_nkd'],
                                               rel=1e-3, abs=1e-4)
