# Dash with the warm-up of the paper's Algorithm 1: the 200 warm-up iterations train on the
# labelled images only (no unlabelled sample kept; rho_hat still estimated from the unlabelled
# losses), instead of the official code's warm-up that keeps every unlabelled sample with the
# soft pseudo-labels of a barely trained model. Otherwise the 250-label Dash config.
_base_ = ['./dash_wrn10-1_1xb16-mu2-1000it_fashionmnist-250.py']

model = dict(selection=dict(warmup_unlabeled=False))
