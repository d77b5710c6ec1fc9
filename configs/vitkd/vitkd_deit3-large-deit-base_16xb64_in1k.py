# ViTKD (arXiv 2209.02432): DeiT-Base student, DeiT III-Large teacher (paper: 83.46 top-1), the
# student's mmpretrain schedule.
_base_ = ['mmpretrain::deit/deit-base_16xb64_in1k.py']

vitkd_paths = ['backbone.layers.0', 'backbone.layers.1', 'backbone.ln1']
model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='mmpretrain::deit/deit-base_16xb64_in1k.py',
    teacher='mmpretrain::deit3/deit3-large-p16_64xb64_in1k.py',
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/deit3/'
    'deit3-large-p16_in21k-pre_3rdparty_in1k_20221009-d8d27084.pth',
    distill=[
        dict(name='loss_vitkd', student=vitkd_paths, teacher=vitkd_paths,
             loss=dict(type='mmext.ViTKDLoss', student_dims=768, teacher_dims=1024,
                       alpha_vitkd=3e-5, beta_vitkd=3e-6, lambda_vitkd=0.5)),
    ],
    input_shape=(3, 224, 224))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
