# MGD (arXiv 2205.01529) on the nuclei tiles: the project's RetinaNet ResNet-18-w32 baseline as
# student, the same detector trained by its baseline config as teacher (born-again pair: the
# small CPU budget allows no larger teacher). Every FPN level (64 channels) is distilled with the
# one-stage setting (alpha 2e-5, lambda 0.65). Train the teacher first:
#   python tools/train.py configs/baselines/retinanet_r18-w32_fpn_40e_nuclei.py \
#       --work-dir work_dirs/retinanet_r18-w32_fpn_40e_nuclei
_base_ = ['../baselines/retinanet_r18-w32_fpn_40e_nuclei.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../baselines/retinanet_r18-w32_fpn_40e_nuclei.py',
    teacher='{{fileDirname}}/../baselines/retinanet_r18-w32_fpn_40e_nuclei.py',
    teacher_ckpt='work_dirs/retinanet_r18-w32_fpn_40e_nuclei/epoch_40.pth',
    distill=[
        dict(name=f'loss_mgd_fpn_{i}', student=f'neck.fpn_convs.{i}',
             loss=dict(type='mmext.MGDLoss', student_channels=64, teacher_channels=64,
                       alpha_mgd=2e-5, lambda_mgd=0.65))
        for i in range(5)
    ],
    input_shape=(3, 128, 128))
