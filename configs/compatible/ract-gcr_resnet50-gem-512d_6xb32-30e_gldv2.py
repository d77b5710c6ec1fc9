# The RACT GLDv2 model evaluated with GCR re-ranking (arXiv 2107.02220, global branch, official
# defaults k=45, beta=0.08, 3 rounds) applied to each query / gallery pair before ranking:
#   python tools/test.py configs/compatible/ract-gcr_resnet50-gem-512d_6xb32-30e_gldv2.py CKPT
_base_ = ['./ract_resnet50-gem-512d_6xb32-30e_gldv2.py']

val_evaluator = dict(rerank=dict(type='GCR', k=45, beta=0.08, rounds=3))
test_evaluator = val_evaluator
