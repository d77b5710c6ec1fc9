# The supervised-only arm of the Dash comparison: the same 250 labelled images (same split
# seed) in the same labelled batches (SemiSupervisedSampler with mu=0 keeps the labelled
# stream), same network and schedule; no unlabelled images. A plain ImageClassifier.
_base_ = ['./dash_wrn10-1_1xb16-mu2-1000it_fashionmnist-250.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    head={{_base_.model.head}})
labeled_batch_size = 16
train_dataloader = dict(
    batch_size=labeled_batch_size, sampler=dict(labeled_batch_size=labeled_batch_size, mu=0))
