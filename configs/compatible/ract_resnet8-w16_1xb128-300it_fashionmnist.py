# RACT (arXiv 2201.09724) in the Fashion-MNIST compatible-upgrade demo: the new model of
# ./new_resnet8-w16_1xb128-300it_fashionmnist.py trained with the regression-alleviating
# compatible loss between its embeddings (neck) and the frozen old model's (official
# `contra_ract`: temperature 0.05, 10 hardest negatives per set, weight 1).
_base_ = ['./new_resnet8-w16_1xb128-300it_fashionmnist.py']

model = dict(distill=[
    dict(name='loss_ract', student='neck', teacher='neck', weight=1.0,
         loss=dict(type='mmext.RACTLoss', temperature=0.05, topk_neg=10)),
])
