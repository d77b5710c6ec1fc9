# NKD (arXiv 2208.10139) on Fashion-MNIST: ResNet-18-w8 student (schedule of
# configs/distill/resnet18-w8_1xb128-1e_fashionmnist.py) and the ResNet-18-w16 teacher trained by
# configs/distill/teacher_resnet18-w16_1xb128-2e_fashionmnist.py; temperature 1, gamma 1.5.
_base_ = ['../distill/resnet18-w8_1xb128-1e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../distill/resnet18-w8_1xb128-1e_fashionmnist.py',
    teacher='{{fileDirname}}/../distill/teacher_resnet18-w16_1xb128-2e_fashionmnist.py',
    teacher_ckpt='work_dirs/distill_teacher_fashionmnist/epoch_2.pth',
    distill=[
        dict(name='loss_nkd', student='head',
             loss=dict(type='mmext.NKDLoss', temperature=1.0, gamma=1.5)),
    ],
    input_shape=(1, 28, 28))
