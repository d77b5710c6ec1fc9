# Fashion-MNIST trained with 4 coarse labels only, evaluated on its 10 fine classes (the setting
# of "Weakly Supervised Representation Learning with Coarse Labels", arXiv 2005.09681):
#   tops {T-shirt/top 0, Pullover 2, Dress 3, Coat 4, Shirt 6} -> 0, Trouser 1 -> 1,
#   footwear {Sandal 5, Sneaker 7, Ankle boot 9} -> 2, Bag 8 -> 3.
# Training reads the first 10,000 training images with their coarse labels
# (mmext.RelabeledDataset). Validation is a k-NN and linear probe on frozen features
# (mmext.FeatureProbeValLoop): the bank is the same 10,000 images with their *fine* labels and
# the test pipeline, the queries the 10,000 fine-labelled test images.
_base_ = [
    './datasets/fashion_mnist.py',
    './models/resnet8-w16_fashionmnist.py',
    './schedules/sgd-300it_fashionmnist.py',
]

coarse_label_map = [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]
coarse_classes = ('top', 'trouser', 'footwear', 'bag')
num_train = 10000

# the first num_train training images, read with the test pipeline (the probe's bank)
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
        label_map=coarse_label_map,
        classes=coarse_classes))

val_cfg = dict(
    type='mmext.FeatureProbeValLoop',
    bank_dataloader=dict(
        batch_size=256,
        num_workers=2,
        persistent_workers=True,
        dataset=train_images,
        sampler=dict(type='DefaultSampler', shuffle=False)))
# _delete_: replace the dataset base's Accuracy evaluator instead of merging into it
val_evaluator = dict(
    _delete_=True, type='mmext.FeatureProbeMetric', knn_k=200, temperature=0.07, linear_probe=True)
test_cfg = dict(type='mmext.FeatureProbeTestLoop', bank_dataloader=val_cfg['bank_dataloader'])
test_evaluator = val_evaluator

# about 15 epochs of the 10,000 images; validated every 400 iterations for the curves
max_iters = 1200
train_cfg = dict(max_iters=max_iters, val_interval=400)
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
