# Test-time config: the RACT Fashion-MNIST model evaluated with GCR re-ranking (arXiv
# 2107.02220; global branch, official defaults k=45, beta=0.08, 3 rounds) applied to each query /
# gallery pair (1,000 + 4,000 test images) before ranking:
#   python tools/test.py configs/compatible/ract-gcr_resnet8-w16_1xb128-300it_fashionmnist.py \
#       work_dirs/compatible_ract_fashionmnist_seed0/iter_300.pth --work-dir DIR
_base_ = ['./ract_resnet8-w16_1xb128-300it_fashionmnist.py']

test_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='mmext.QueryGalleryMAP', num_queries=1000, topk=(1, 5),
         pairs={{_base_.compat_pairs}}, rerank=dict(type='GCR', k=45, beta=0.08, rounds=3)),
]
