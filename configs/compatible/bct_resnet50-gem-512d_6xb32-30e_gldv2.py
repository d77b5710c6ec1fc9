# BCT (arXiv 2003.11942) baseline of the RACT GLDv2 recipe: ./ract_resnet50-gem-512d_6xb32-30e_gldv2.py
# with the influence loss (the frozen old classifier, head.layers.1.fc, on the new 512-d
# embeddings; official --comp_loss_type bct) instead of the RACT loss. BiCT (arXiv 2204.13919)
# trains its new model with this term at a small weight (set `weight`).
_base_ = ['./ract_resnet50-gem-512d_6xb32-30e_gldv2.py']

model = dict(distill=[
    dict(name='loss_bct', student='head.layers.0', weight=1.0,
         loss=dict(type='mmext.BCTLoss', old_classifier='head.layers.1.fc')),
])
