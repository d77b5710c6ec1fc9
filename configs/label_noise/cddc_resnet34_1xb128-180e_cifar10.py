# CDDC (arXiv 2210.05126) mirror on CIFAR-10: as the MDDC config with the disturbed covariance.
_base_ = ['./mddc_resnet34_1xb128-180e_cifar10.py']

model = dict(head=dict(loss=dict(mode='covariance', alpha=0.1)))
