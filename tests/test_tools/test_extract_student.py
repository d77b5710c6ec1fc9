import subprocess
import sys

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401



@pytest.fixture(autouse=True)
def _default_scope():
    """Other test modules switch the global default scope; these tests build mmpretrain models."""
    init_default_scope('mmpretrain')
from mmpretrain.registry import MODELS  # noqa: E402

STUDENT = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, base_channels=8,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))


def distiller_checkpoint(tmp_path):
    teacher = dict(STUDENT, backbone=dict(STUDENT['backbone'], base_channels=16),
                   head=dict(STUDENT['head'], in_channels=128))
    model = MODELS.build(dict(
        type='mmext.Distiller', student=STUDENT, teacher=teacher, allow_untrained_teacher=True,
        distill=[dict(name='loss_mgd', student='backbone.layer4',
                      loss=dict(type='mmext.MGDLoss', student_channels=64, teacher_channels=128,
                                mask_type='channel'))]))
    # make the student differ from a fresh init so that the round trip is meaningful
    for p in model.student.parameters():
        p.data.uniform_(-1, 1)
    path = tmp_path / 'distiller.pth'
    torch.save(dict(meta=dict(epoch=3, iter=30), state_dict=model.state_dict()), path)
    return model, path


def test_round_trip_into_the_student_config(tmp_path, load_tool):
    tool = load_tool('model_converters/extract_student.py')
    model, src = distiller_checkpoint(tmp_path)
    out = tmp_path / 'student.pth'
    n = tool.extract_student(str(src), str(out))
    saved = torch.load(out, map_location='cpu', weights_only=False)
    assert n == len(saved['state_dict']) == len(model.student.state_dict())
    assert not any(k.startswith(('teacher.', 'student.', 'distill_items.'))
                   for k in saved['state_dict'])
    assert saved['meta']['epoch'] == 3

    student = MODELS.build(STUDENT)
    load_checkpoint(student, str(out), map_location='cpu', strict=True)
    model.eval()
    student.eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(student(x, mode='tensor'), model(x, mode='tensor'))


def test_cli_and_errors(tmp_path, load_tool):
    _, src = distiller_checkpoint(tmp_path)
    out = tmp_path / 'cli' / 'student.pth'
    proc = subprocess.run(
        [sys.executable, 'tools/model_converters/extract_student.py', str(src), str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and 'student tensors' in proc.stdout

    tool = load_tool('model_converters/extract_student.py')
    plain = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=MODELS.build(STUDENT).state_dict()), plain)
    with pytest.raises(ValueError, match='not an mmext.Distiller checkpoint'):
        tool.extract_student(str(plain), str(tmp_path / 'x.pth'))
    with pytest.raises(FileNotFoundError):
        tool.extract_student(str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth'))
