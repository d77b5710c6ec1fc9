# The fixed-threshold arm of the 1000-label Dash comparison (100 labels per class): as the 250-label
# one, on the labelled images of dash_wrn10-1_1xb16-mu2-1000it_fashionmnist-1000.py.
_base_ = ['./fixmatch_wrn10-1_1xb16-mu2-1000it_fashionmnist-250.py']

train_dataloader = dict(dataset=dict(num_labels_per_class=100))
