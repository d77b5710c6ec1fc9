# Plain cross-entropy with 40% IDN (`tools/dataset_converters/label_noise.py --rate 0.4`).
_base_ = ['./ce_resnet18-w16_1xb128-200i_fashionmnist-idn20.py']

train_dataloader = dict(dataset=dict(noisy_label_file='noisy_labels/idn-0.4_seed0.npy'))
