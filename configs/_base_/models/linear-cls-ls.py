# Classifier skeleton: a global average pooling neck and a linear head trained with label
# smoothing 0.1. Used by ../zennas_8xb64-480e_in1k.py and ../nano_1xb128-300it_fashionmnist.py;
# configs add the backbone and the head's ``num_classes`` / ``in_channels``.
model = dict(
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))
