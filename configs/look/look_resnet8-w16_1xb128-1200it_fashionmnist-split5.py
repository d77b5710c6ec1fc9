# LOOK (arXiv 2110.06014) pre-training of the ResNet-8 w16 on Fashion-MNIST classes 0-4 with the
# leave-one-out k-NN loss (k=200, temperature 0.07) over a memory bank of the ~10,000 training
# images (64-d linear projection, bank momentum 0.5, the current batch as live neighbours),
# transferred to the held-out classes 5-9 by a k-NN / linear probe of the frozen backbone
# features. Same data, schedule and evaluation as the cross-entropy baseline.
_base_ = ['../_base_/split5_1xb128-1200it_fashionmnist.py']

model = dict(
    head=dict(
        type='mmext.LOOKHead',
        num_classes=5,
        in_channels=64,
        # sample_idx of mmext.RelabeledDataset runs over the ~10,000 kept images: room for all
        memory_size=20000,
        embed_dims=64,
        memory_momentum=0.5,
        live_batch=True,
        loss=dict(type='mmext.LOOKLoss', k=200, temperature=0.07)))
