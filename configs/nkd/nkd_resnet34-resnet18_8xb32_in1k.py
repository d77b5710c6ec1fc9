# NKD (arXiv 2208.10139): ResNet-18 student, ResNet-34 teacher on ImageNet-1k, as the official
# yzd-v/cls_KD recipe: logits distilled with NKD (temperature 1, gamma 1.5) on top of the
# student's own cross-entropy, mmpretrain's ResNet-18 schedule (100 epochs, 8 GPUs x 32).
_base_ = ['../_base_/distill_resnet34-resnet18_8xb32_in1k.py']

model = dict(
    # a classifier's `head` returns its logits
    distill=[
        dict(name='loss_nkd', student='head', teacher='head',
             loss=dict(type='mmext.NKDLoss', temperature=1.0, gamma=1.5)),
    ])

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
