# MGD (arXiv 2205.01529) for classification: ResNet-18 <- ResNet-34 on ImageNet-1k, the last
# stage distilled (alpha 7e-5, lambda 0.15). As in the official code, classification masks whole
# channels. Paper: 69.90 -> 71.69 top-1.
_base_ = ['../_base_/distill_resnet34-resnet18_8xb32_in1k.py']

model = dict(
    distill=[
        dict(name='loss_mgd', student='backbone.layer4', teacher='backbone.layer4',
             loss=dict(type='mmext.MGDLoss', student_channels=512, teacher_channels=512,
                       alpha_mgd=7e-5, lambda_mgd=0.15, mask_type='channel')),
    ])

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
