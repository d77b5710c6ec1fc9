# Validation / test by kNN and linear-probe top-1 of frozen features on Fashion-MNIST
# (mmext.FeatureProbeValLoop, mmext/evaluation/feature_probe.py): the bank is the training split
# with the test pipeline, the evaluated set the test split. Representation-learning configs
# (self-supervised, coarse labels, transfer) inherit this in place of ./datasets/fashion_mnist.py
# (it inherits that base; naming both would define the same keys twice).
_base_ = ['./datasets/fashion_mnist.py']

bank_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type={{_base_.dataset_type}}, data_root={{_base_.data_root}}, split='train',
        test_mode=False, download=False, pipeline={{_base_.test_pipeline}}),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_cfg = dict(type='mmext.FeatureProbeValLoop', bank_dataloader=bank_dataloader)
test_cfg = val_cfg
# _delete_: replace the dataset base's Accuracy evaluator instead of merging into it
val_evaluator = dict(
    _delete_=True, type='mmext.FeatureProbeMetric', knn_k=200, temperature=0.07, linear_probe=True)
test_evaluator = val_evaluator
