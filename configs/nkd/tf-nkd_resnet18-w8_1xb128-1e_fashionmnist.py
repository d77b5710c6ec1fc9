# tf-NKD (arXiv 2208.10139) on Fashion-MNIST: the ResNet-18-w8 student of
# configs/distill/resnet18-w8_1xb128-1e_fashionmnist.py with the teacher-free NKD loss.
_base_ = ['../distill/resnet18-w8_1xb128-1e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.Distiller',
    student='{{fileDirname}}/../distill/resnet18-w8_1xb128-1e_fashionmnist.py',
    distill=[dict(name='loss_tf_nkd', student='head', loss=dict(type='mmext.TfNKDLoss'))],
    input_shape=(1, 28, 28))
