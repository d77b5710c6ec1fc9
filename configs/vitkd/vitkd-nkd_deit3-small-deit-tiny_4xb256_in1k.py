# ViTKD + NKD (arXiv 2209.02432, 2208.10139): the feature loss of ViTKD and NKD on the logits
# (gamma 1.0 for ViT students) combined, DeiT-Tiny <- DeiT III-Small (paper: 77.78 top-1).
_base_ = ['./vitkd_deit3-small-deit-tiny_4xb256_in1k.py']

model = dict(distill=[
    dict(name='loss_vitkd', student={{_base_.vitkd_paths}}, teacher={{_base_.vitkd_paths}},
         loss=dict(type='mmext.ViTKDLoss', student_dims=192, teacher_dims=384,
                   alpha_vitkd=3e-5, beta_vitkd=3e-6, lambda_vitkd=0.5)),
    dict(name='loss_nkd', student='head', teacher='head',
         loss=dict(type='mmext.NKDLoss', temperature=1.0, gamma=1.0)),
])
