# ViTKD + NKD (arXiv 2209.02432, 2208.10139) on Fashion-MNIST: the ViTKD pair of
# vitkd_vit-w64-w32_1xb128-3e_fashionmnist.py plus NKD on the logits (gamma 1.0 for ViT students).
_base_ = ['./vitkd_vit-w64-w32_1xb128-3e_fashionmnist.py']

model = dict(distill=[
    {{_base_.vitkd_loss}},
    dict(name='loss_nkd', student='head',
         loss=dict(type='mmext.NKDLoss', temperature=1.0, gamma=1.0)),
])
