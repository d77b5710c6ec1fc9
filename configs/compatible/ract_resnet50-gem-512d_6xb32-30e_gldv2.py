# RACT (arXiv 2201.09724) GLDv2 recipe, NEW model: the architecture and schedule of
# ./old_resnet50-gem-512d_6xb32-30e_gldv2-30pct.py on 100% of GLDv2-clean, trained with the
# regression-alleviating compatible loss on the 512-d embeddings against the frozen old model
# (official command: --comp_loss_type contra_ract --comp_loss_topk 10, temperature 0.05,
# weight 1). Evaluation: old-old / new-old / new-new mAP and CMC on a labelled query / gallery
# file (see configs/compatible/README.md: the paper's GLDv2-test mAP@100 and ROxford / RParis
# protocols are not implemented here). Only built and forwarded in the tests here.
_base_ = ['./old_resnet50-gem-512d_6xb32-30e_gldv2-30pct.py']

model = dict(
    _delete_=True,
    type='mmext.CompatibleDistiller',
    student='{{fileDirname}}/old_resnet50-gem-512d_6xb32-30e_gldv2-30pct.py',
    teacher='{{fileDirname}}/old_resnet50-gem-512d_6xb32-30e_gldv2-30pct.py',
    teacher_ckpt='work_dirs/old_resnet50-gem-512d_6xb32-30e_gldv2-30pct/epoch_30.pth',
    embedding='head.layers.0',
    distill=[
        dict(name='loss_ract', student='head.layers.0', teacher='head.layers.0', weight=1.0,
             loss=dict(type='mmext.RACTLoss', temperature=0.05, topk_neg=10)),
    ])

train_dataloader = dict(dataset=dict(ann_file='annotation/label_81313.txt'))
# the first `num_queries` lines of the val file are the queries, the others the gallery
val_evaluator = dict(
    type='mmext.QueryGalleryMAP',
    num_queries=1000,
    topk=(1, 5, 10),
    pairs=dict(
        old_old=('old_embedding', 'old_embedding'),
        new_old=('embedding', 'old_embedding'),
        new_new=('embedding', 'embedding')))
test_evaluator = val_evaluator
