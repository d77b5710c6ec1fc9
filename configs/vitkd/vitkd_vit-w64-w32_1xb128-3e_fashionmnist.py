# ViTKD (arXiv 2209.02432) on Fashion-MNIST: the 4-layer ViT-w32 student of
# configs/distill/vit-w32_1xb128-3e_fashionmnist.py and the ViT-w64 teacher trained by
# configs/distill/teacher_vit-w64_1xb128-4e_fashionmnist.py; blocks 0-1 mimicked, the last block
# generated from masked student tokens (the paper's alpha, beta and mask ratio).
_base_ = ['../distill/vit-w32_1xb128-3e_fashionmnist.py']

vitkd_loss = dict(
    name='loss_vitkd', student=['backbone.layers.0', 'backbone.layers.1', 'backbone.ln1'],
    loss=dict(type='mmext.ViTKDLoss', student_dims=32, teacher_dims=64,
              alpha_vitkd=3e-5, beta_vitkd=3e-6, lambda_vitkd=0.5))
model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../distill/vit-w32_1xb128-3e_fashionmnist.py',
    teacher='{{fileDirname}}/../distill/teacher_vit-w64_1xb128-4e_fashionmnist.py',
    teacher_ckpt='work_dirs/distill_vit_teacher_fashionmnist/epoch_4.pth',
    distill=[vitkd_loss],
    input_shape=(1, 28, 28))
