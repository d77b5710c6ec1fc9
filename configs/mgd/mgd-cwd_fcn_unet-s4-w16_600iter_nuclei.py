# MGD + channel-wise logit distillation (arXiv 2205.01529, 2011.13256) on the nuclei tiles: the
# project's UNet-FCN baseline as student and, trained by the same baseline config, as teacher
# (born-again pair). The deepest encoder stage (128 channels) is distilled with the segmentation
# setting (alpha 2e-5, lambda 0.75) and the logits with CWD (tau 4, weight 3). Train the teacher
# first:
#   python tools/train.py configs/baselines/fcn_unet-s4-w16_600iter_nuclei.py \
#       --work-dir work_dirs/fcn_unet-s4-w16_600iter_nuclei
_base_ = ['../baselines/fcn_unet-s4-w16_600iter_nuclei.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../baselines/fcn_unet-s4-w16_600iter_nuclei.py',
    teacher='{{fileDirname}}/../baselines/fcn_unet-s4-w16_600iter_nuclei.py',
    teacher_ckpt='work_dirs/fcn_unet-s4-w16_600iter_nuclei/iter_600.pth',
    distill=[
        dict(name='loss_mgd', student='backbone.encoder.3',
             loss=dict(type='mmext.MGDLoss', student_channels=128, teacher_channels=128,
                       alpha_mgd=2e-5, lambda_mgd=0.75)),
        dict(name='loss_cwd', student='decode_head.conv_seg', weight=3.0,
             loss=dict(type='mmext.ChannelWiseDivergence', tau=4.0)),
    ],
    input_shape=(3, 128, 128))
