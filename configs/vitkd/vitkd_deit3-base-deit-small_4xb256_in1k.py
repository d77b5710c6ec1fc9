# ViTKD (arXiv 2209.02432): DeiT-Small student, DeiT III-Base teacher (paper: 81.95 top-1), the
# student's mmpretrain schedule.
_base_ = ['mmpretrain::deit/deit-small_4xb256_in1k.py']

vitkd_paths = ['backbone.layers.0', 'backbone.layers.1', 'backbone.ln1']
model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='mmpretrain::deit/deit-small_4xb256_in1k.py',
    teacher='mmpretrain::deit3/deit3-base-p16_64xb64_in1k.py',
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/deit3/'
    'deit3-base-p16_in21k-pre_3rdparty_in1k_20221009-87983ca1.pth',
    distill=[
        dict(name='loss_vitkd', student=vitkd_paths, teacher=vitkd_paths,
             loss=dict(type='mmext.ViTKDLoss', student_dims=384, teacher_dims=768,
                       alpha_vitkd=3e-5, beta_vitkd=3e-6, lambda_vitkd=0.5)),
    ],
    input_shape=(3, 224, 224))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
