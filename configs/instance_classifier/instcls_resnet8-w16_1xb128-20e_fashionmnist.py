# One-million-way instance classifier, scaled to unlabelled Fashion-MNIST: one class for each
# of the first 5,000 training images, the ResNet-8 with a 64-128-32 projection MLP, cosine
# classifier (temperature 0.2) split over the processes (mmext.ShardedLinear: run it with
# tools/dist_train.sh to shard it), labels smoothed onto the 5 hardest classes (0.1), one
# augmented view per image; SGD lr 0.1 (momentum 0.9, weight decay 5e-4), one warm-up epoch,
# cosine decay: the schedule of the supervised reference.
_base_ = ['../_base_/selfsup_resnet8-w16_fashionmnist.py']

num_instances = {{_base_.num_train}}
# plain BN: NonLinearNeck's default SyncBN does not run on CPU processes (gloo)
norm_cfg = dict(type='BN1d')
model = dict(
    type='mmext.InstanceClassifier',
    data_preprocessor={{_base_.selfsup_preprocessor}},
    backbone={{_base_.backbone}},
    neck=dict(
        type='NonLinearNeck', in_channels=64, hid_channels=128, out_channels=32, num_layers=2,
        with_bias=True, with_last_bn=False, with_avg_pool=True, norm_cfg=norm_cfg),
    head=dict(
        type='mmext.InstanceClassificationHead',
        num_instances=num_instances,
        in_channels=32,
        temperature=0.2,
        loss=dict(type='mmext.InstanceClassificationLoss', smooth=0.1, topk=5)))

train_pipeline = [
    dict(type='MultiView', num_views=1, transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# rank 0 writes the checkpoints: gather the classifier's shards first
custom_hooks = [dict(type='mmext.ShardedLinearGatherHook')]
