# LOOK (arXiv 2110.06014) supervised pre-training of ResNet-50 on ImageNet: the leave-one-out
# k-NN loss over a memory bank of all 1,281,167 training images (a 2048-2048-128 MLP
# projection, k=200, temperature 0.07, bank momentum 0.5, the batch as live neighbours) in place
# of the linear classifier and cross-entropy of mmpretrain's ResNet-50 recipe (SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, batch 256 = 8 x 32, 100 epochs, x0.1 at 30/60/90). The
# paper's own hyper-parameters (k, temperature, bank, schedule) could not be checked here (no
# official code; see configs/look/README.md). Validation accuracy is the k-NN vote over the
# bank; for transfer, fine-tune or probe the backbone on the downstream set.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']

model = dict(
    head=dict(
        _delete_=True,
        type='mmext.LOOKHead',
        num_classes=1000,
        in_channels=2048,
        memory_size=1281167,
        embed_dims=128,
        hid_channels=2048,
        memory_momentum=0.5,
        live_batch=True,
        loss=dict(type='mmext.LOOKLoss', k=200, temperature=0.07),
        topk=(1, 5)))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
