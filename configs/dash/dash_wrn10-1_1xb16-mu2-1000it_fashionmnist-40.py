# Dash on Fashion-MNIST with 40 labels (4 per class); otherwise as the 250-label config.
_base_ = ['./dash_wrn10-1_1xb16-mu2-1000it_fashionmnist-250.py']

train_dataloader = dict(dataset=dict(num_labels_per_class=4))
