# Same model and memory as adanpc_resnet18-w16_1xb128-1e_fashionmnist.py, tested on a shifted
# copy of the Fashion-MNIST test set: contrast x0.5, rotation 30 degrees, Gaussian noise
# (std 25 grey levels), fixed per image (seed 0).
_base_ = ['./adanpc_resnet18-w16_1xb128-1e_fashionmnist.py']

shift_pipeline = [
    dict(type='mmext.DomainShift', rotate=30., noise_std=25., contrast=0.5, seed=0),
    dict(type='PackInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=shift_pipeline))
