# MGD (arXiv 2205.01529) on Fashion-MNIST: ResNet-18-w8 student, ResNet-18-w16 teacher (trained
# by configs/distill/teacher_resnet18-w16_1xb128-2e_fashionmnist.py); the last stage (64 -> 128
# channels, 1x1 connector) with the classification setting (alpha 7e-5, lambda 0.15, channel
# mask).
_base_ = ['../distill/resnet18-w8_1xb128-1e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../distill/resnet18-w8_1xb128-1e_fashionmnist.py',
    teacher='{{fileDirname}}/../distill/teacher_resnet18-w16_1xb128-2e_fashionmnist.py',
    teacher_ckpt='work_dirs/distill_teacher_fashionmnist/epoch_2.pth',
    distill=[
        dict(name='loss_mgd', student='backbone.layer4',
             loss=dict(type='mmext.MGDLoss', student_channels=64, teacher_channels=128,
                       alpha_mgd=7e-5, lambda_mgd=0.15, mask_type='channel')),
    ],
    input_shape=(1, 28, 28))
