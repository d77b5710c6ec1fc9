# Same model and memory as adanpc_resnet18-w16_1xb128-1e_fashionmnist.py, tested on a milder
# shifted copy of the Fashion-MNIST test set: rotation 10 degrees and Gaussian noise (std 15 grey
# levels), contrast unchanged, fixed per image (seed 0).
_base_ = ['./adanpc_resnet18-w16_1xb128-1e_fashionmnist.py']

shift_pipeline = [
    dict(type='mmext.DomainShift', rotate=10., noise_std=15., contrast=1.0, seed=0),
    dict(type='PackInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=shift_pipeline))
