# Unsparsified baseline of the STViT-R run: identical model with a plain Swin third stage
# (semantic_stages=()), i.e. Swin with the STViT-R conv stem; same data and schedule.
_base_ = ['./stvit-r-nano_1xb128-1e_fashionmnist.py']

model = dict(backbone=dict(semantic_stages=()))
