# ViTKD + NKD (arXiv 2209.02432, 2208.10139) on Fashion-MNIST: the 4-layer ViT-w32 student of
# configs/distill/vit-w32_1xb128-1e_fashionmnist.py and the ViT-w64 teacher trained by
# configs/distill/teacher_vit-w64_1xb128-2e_fashionmnist.py; blocks 0-1 mimicked, the last block
# generated (paper alpha, beta, lambda), NKD with gamma 1.0 on the logits.
_base_ = ['../distill/vit-w32_1xb128-1e_fashionmnist.py']

vitkd_paths = ['backbone.layers.0', 'backbone.layers.1', 'backbone.ln1']
model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../distill/vit-w32_1xb128-1e_fashionmnist.py',
    teacher='{{fileDirname}}/../distill/teacher_vit-w64_1xb128-2e_fashionmnist.py',
    teacher_ckpt='work_dirs/distill_vit_teacher_fashionmnist/epoch_2.pth',
    distill=[
        dict(name='loss_vitkd', student=vitkd_paths,
             loss=dict(type='mmext.ViTKDLoss', student_dims=32, teacher_dims=64,
                       alpha_vitkd=3e-5, beta_vitkd=3e-6, lambda_vitkd=0.5)),
        dict(name='loss_nkd', student='head',
             loss=dict(type='mmext.NKDLoss', temperature=1.0, gamma=1.0)),
    ],
    input_shape=(1, 28, 28))
