# The NEW model trained alone ("independent" upgrade, no compatibility loss) in the Fashion-MNIST
# compatible-upgrade demo: the same ResNet-8 on the full 12,800-image subset for 300 iterations.
# It is wrapped in mmext.CompatibleDistiller with the frozen old model
# (./old_resnet8-w16_1xb128-100it_fashionmnist.py) only so that evaluation reports old-old,
# new-old and new-new retrieval: 1,000 test queries against a 4,000-image test gallery.
#   python tools/train_distill.py configs/compatible/new_resnet8-w16_1xb128-300it_fashionmnist.py \
#       --work-dir work_dirs/compatible_new_fashionmnist
# trains the old model first when work_dirs/compatible_old_fashionmnist/iter_100.pth is missing.
_base_ = ['./old_resnet8-w16_1xb128-100it_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.CompatibleDistiller',
    student='{{fileDirname}}/old_resnet8-w16_1xb128-100it_fashionmnist.py',
    teacher='{{fileDirname}}/old_resnet8-w16_1xb128-100it_fashionmnist.py',
    teacher_ckpt='work_dirs/compatible_old_fashionmnist/iter_100.pth',
    distill=[],
    input_shape=(1, 28, 28))

train_dataloader = dict(dataset=dict(indices=12800))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30),
]
train_cfg = dict(max_iters=300, val_interval=300)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=300))

# the first 5,000 test images: the first 1,000 are the queries, the other 4,000 the gallery
val_dataloader = dict(dataset=dict(indices=5000))
test_dataloader = val_dataloader
compat_pairs = dict(
    old_old=('old_embedding', 'old_embedding'),
    new_old=('embedding', 'old_embedding'),
    new_new=('embedding', 'embedding'))
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='mmext.QueryGalleryMAP', num_queries=1000, topk=(1, 5), pairs=compat_pairs),
]
test_evaluator = val_evaluator
