# ResNet-18 student <- ResNet-34 teacher (mmpretrain's released ImageNet-1k weights) with
# mmpretrain's ResNet-18 ImageNet-1k data and schedule (100 epochs, 8 GPUs x 32): the setting
# shared by the ImageNet distillation configs (configs/nkd, configs/mgd, configs/kcd via nkd).
# They add their `model.distill` entries.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet34_8xb32_in1k_20210831-f257d4e6.pth',
    input_shape=(3, 224, 224))
