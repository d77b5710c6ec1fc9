# UperNet on ADE20K with the SOLIDER Swin-T backbone (LUPerson weights), on mmseg's Swin-T
# UperNet config (AdamW 6e-5, 160k iterations, 8 GPUs x 2 images). Semantic weight 0.0: the
# official human-parsing code (SOLIDER-HumanParsing networks/swin_transformer.py) keeps the
# backbone's default 0.
_base_ = ['mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py']

pretrained = 'checkpoints/solider-swin-tiny_lup_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.SOLIDERSwin',
        arch='tiny',
        semantic_weight=0.0,
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
