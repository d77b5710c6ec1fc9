# BiCT (arXiv 2204.13919) forward-compatible stage in the Fashion-MNIST demo: the old gallery
# embeddings are upgraded towards the space of the backward-compatible new model without the
# gallery images. The trainable part is a 2-layer MLP transformation psi on the frozen old
# model's pooled features (the old backbone, loaded from the old checkpoint, frozen with its
# norms in eval mode); it is trained with the *new* model's frozen classifier applied to
# psi(old embedding) (mmext.BCTLoss bound to the new model: the influence loss in the forward
# direction). The "teacher" of mmext.CompatibleDistiller is here the frozen NEW model (the BCT
# run's student, extracted with tools/model_converters/extract_student.py), so the prediction
# fields read: `old_embedding` = new-model embedding, `embedding` = upgraded old embedding.
# Our reading of the paper's forward term (see configs/compatible/README.md, deviations).
#   python tools/model_converters/extract_student.py \
#       work_dirs/compatible_bct_fashionmnist_seed0/iter_300.pth work_dirs/bct_new_seed0.pth
#   python tools/train.py configs/compatible/bict-forward_resnet8-w16_1xb128-300it_fashionmnist.py \
#       --work-dir work_dirs/compatible_bict-forward_fashionmnist_seed0
_base_ = ['./new_resnet8-w16_1xb128-300it_fashionmnist.py']

old_ckpt = 'work_dirs/compatible_old_fashionmnist_seed0/iter_100.pth'
model = dict(
    _delete_=True,
    type='mmext.CompatibleDistiller',
    student=dict(
        type='ImageClassifier',
        backbone=dict(
            type='mmext.CIFARResNet', stage_blocks=(1, 1, 1), in_channels=1, stem_channels=16,
            base_channels=16, frozen_stages=3, norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint=old_ckpt, prefix='backbone.')),
        # psi: global average pooling, 64 -> 128 (BN, ReLU) -> 64
        neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=128, out_channels=64,
                  num_layers=2, with_last_bn=False, with_last_bias=True,
                  norm_cfg=dict(type='BN1d')),
        # ImageClassifier needs a head; psi is trained by the forward influence loss alone
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                  loss=dict(type='CrossEntropyLoss', loss_weight=0.0))),
    teacher='{{fileDirname}}/old_resnet8-w16_1xb128-100it_fashionmnist.py',
    teacher_ckpt='work_dirs/bct_new_seed0.pth',
    distill=[
        dict(name='loss_bict_forward', student='neck', weight=1.0,
             loss=dict(type='mmext.BCTLoss', old_classifier='head.fc')),
    ],
    input_shape=(1, 28, 28))

val_evaluator = [
    dict(
        type='mmext.QueryGalleryMAP',
        num_queries=1000,
        topk=(1, 5),
        pairs=dict(
            new_new=('old_embedding', 'old_embedding'),
            new_upgraded=('old_embedding', 'embedding'),
            upgraded_upgraded=('embedding', 'embedding'))),
]
test_evaluator = val_evaluator
