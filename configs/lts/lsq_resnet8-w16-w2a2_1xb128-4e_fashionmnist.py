# QAT baseline for ./lts_resnet8-w16-w2a2_1xb128-4e_fashionmnist.py: the same W2A2 LSQ model and
# schedule without LTS freezing.
_base_ = ['./lts_resnet8-w16-w2a2_1xb128-4e_fashionmnist.py']

custom_hooks = []
