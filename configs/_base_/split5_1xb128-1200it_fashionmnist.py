# Fashion-MNIST split by class for transfer (the setting of LOOK, "Rethinking Supervised
# Pre-training for Better Downstream Transferring", arXiv 2110.06014, scaled down):
# supervised pre-training on classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat), the
# ones among the first 20,000 training images (about 10,000), relabelled 0-4 by
# mmext.RelabeledDataset; evaluation on the held-out classes 5-9 (Sandal, Shirt, Sneaker, Bag,
# Ankle boot), never seen in training: a k-NN / linear probe on frozen features
# (mmext.FeatureProbeValLoop) whose bank is the held-out images among the first 20,000
# training images (about 10,000, relabelled 0-4 in the order 5..9) and whose queries are the
# 5,000 held-out test images.
# Model and schedule shared by the arms of configs/look: the ResNet-8 w16 and 1200 SGD
# iterations of batch 128 (lr 0.1, Nesterov, 30-iteration warm-up then cosine); configs add the
# head.
_base_ = [
    './datasets/fashion_mnist.py',
    './models/resnet8-w16_fashionmnist.py',
    './schedules/sgd-300it_fashionmnist.py',
]

pretrain_classes = [0, 1, 2, 3, 4]
heldout_classes = [5, 6, 7, 8, 9]
num_classes = 5
num_train = 20000  # images read before the class filter

# the first num_train training images, read with the test pipeline
train_images = dict(
    type={{_base_.dataset_type}},
    data_root={{_base_.data_root}},
    split='train',
    download=False,
    indices=num_train,
    pipeline={{_base_.test_pipeline}})

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmext.RelabeledDataset',
        dataset=dict(train_images, pipeline={{_base_.train_pipeline}}),
        keep_classes=pretrain_classes))

val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmext.RelabeledDataset',
        dataset={{_base_.val_dataloader.dataset}},
        keep_classes=heldout_classes))
test_dataloader = val_dataloader

val_cfg = dict(
    type='mmext.FeatureProbeValLoop',
    bank_dataloader=dict(
        batch_size=256,
        num_workers=2,
        persistent_workers=True,
        dataset=dict(type='mmext.RelabeledDataset', dataset=train_images,
                     keep_classes=heldout_classes),
        sampler=dict(type='DefaultSampler', shuffle=False)))
# _delete_: replace the dataset base's Accuracy evaluator instead of merging into it
val_evaluator = dict(
    _delete_=True, type='mmext.FeatureProbeMetric', knn_k=200, temperature=0.07, linear_probe=True)
test_cfg = dict(type='mmext.FeatureProbeTestLoop', bank_dataloader=val_cfg['bank_dataloader'])
test_evaluator = val_evaluator

# about 15 epochs of the ~10,000 kept images; validated every 400 iterations for the curves
max_iters = 1200
train_cfg = dict(max_iters=max_iters, val_interval=400)
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
