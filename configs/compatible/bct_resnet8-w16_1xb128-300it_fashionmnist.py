# BCT (arXiv 2003.11942) in the Fashion-MNIST compatible-upgrade demo: the new model of
# ./new_resnet8-w16_1xb128-300it_fashionmnist.py trained with the influence loss, the frozen old
# classifier (head.fc of the old model) applied to the new embeddings, weight 1.
_base_ = ['./new_resnet8-w16_1xb128-300it_fashionmnist.py']

model = dict(distill=[
    dict(name='loss_bct', student='neck', weight=1.0,
         loss=dict(type='mmext.BCTLoss', old_classifier='head.fc')),
])
