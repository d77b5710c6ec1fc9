# tf-NKD (arXiv 2208.10139): teacher-free NKD for ResNet-18 on ImageNet-1k; the soft target is
# the student's own target probability smoothed over the batch. No teacher is built or run.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    distill=[dict(name='loss_tf_nkd', student='head', loss=dict(type='mmext.TfNKDLoss'))],
    input_shape=(3, 224, 224))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
