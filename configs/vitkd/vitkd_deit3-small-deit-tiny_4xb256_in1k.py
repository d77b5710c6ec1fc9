# ViTKD (arXiv 2209.02432): DeiT-Tiny student, DeiT III-Small teacher (the paper's pair) on
# ImageNet-1k with the DeiT-Tiny schedule of mmpretrain (300 epochs, 4 GPUs x 256). The first two
# blocks are mimicked, the last block (after the final norm) is generated from masked tokens.
_base_ = ['mmpretrain::deit/deit-tiny_4xb256_in1k.py']

vitkd_paths = ['backbone.layers.0', 'backbone.layers.1', 'backbone.ln1']
model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='mmpretrain::deit/deit-tiny_4xb256_in1k.py',
    teacher='mmpretrain::deit3/deit3-small-p16_64xb64_in1k.py',
    # the teacher weights of the official recipe (DeiT III-Small, ImageNet-21k pre-trained)
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/deit3/'
    'deit3-small-p16_in21k-pre_3rdparty_in1k_20221009-dcd90827.pth',
    distill=[
        dict(name='loss_vitkd', student=vitkd_paths, teacher=vitkd_paths,
             loss=dict(type='mmext.ViTKDLoss', student_dims=192, teacher_dims=384,
                       alpha_vitkd=3e-5, beta_vitkd=3e-6, lambda_vitkd=0.5)),
    ],
    input_shape=(3, 224, 224))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
