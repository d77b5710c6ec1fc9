# The fixed-threshold arm (FixMatch, arXiv 2001.07685) of the Dash comparison: same data,
# network and schedule as the Dash config; an unlabelled sample is kept when the softmax
# confidence of its weak view reaches 0.95, with hard pseudo-labels, lambda_u = 1 and the loss
# averaged over the whole unlabelled batch (FixMatch's choices).
_base_ = ['./dash_wrn10-1_1xb16-mu2-1000it_fashionmnist-250.py']

model = dict(
    selection=dict(_delete_=True, type='fixed', confidence=0.95), lambda_u=1.0, normalize='all')
