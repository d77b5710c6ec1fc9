# Frozen-feature evaluation of the self-supervised Fashion-MNIST runs (configs/coke,
# configs/instance_classifier) and of their references: mmext.FeatureProbeValLoop runs
# extract_feat (the backbone's last output, global-average-pooled) over a bank and the queries;
# mmext.FeatureProbeMetric reports the weighted-kNN top-1 (k=200 nearest by cosine, votes
# exp(sim / 0.07): the InstDisc / CoKe protocol) and a linear-probe top-1 (logistic regression
# on the frozen bank features). Bank: the training subset the runs learn from (the first
# 5,000 images, test pipeline: no augmentation); its labels are used here only. Queries: the
# 10,000 test images.
_base_ = ['./datasets/fashion_mnist.py']

num_train = 5000
bank_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type={{_base_.dataset_type}}, data_root={{_base_.data_root}}, split='train',
        download=False, indices=num_train, pipeline={{_base_.test_pipeline}}),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
val_cfg = dict(type='mmext.FeatureProbeValLoop', bank_dataloader=bank_dataloader)
test_cfg = dict(type='mmext.FeatureProbeTestLoop', bank_dataloader=bank_dataloader)
val_evaluator = dict(
    type='mmext.FeatureProbeMetric', knn_k=200, temperature=0.07, linear_probe=True)
test_evaluator = val_evaluator
