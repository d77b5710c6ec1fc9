# CDDC (covariance-based dynamic distribution calibration, arXiv 2210.05126) with 20% IDN:
# as the MDDC config, with the empirical mean and the covariance disturbed by alpha * 1 1^T.
_base_ = ['./mddc_resnet18-w16_1xb128-200i_fashionmnist-idn20.py']

model = dict(head=dict(loss=dict(mode='covariance', alpha=0.1)))
