# The compression SGD recipe with the LSQ quantizer parameters of the LTS paper mirrors
# (configs/lts, arXiv:2211.08544): the learned step sizes train at lr 1e-4 (1e-3 x the weights'
# 0.1, as the official scripts) without weight decay.
_base_ = ['./compression_sgd.py']

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'weight_step': dict(lr_mult=1e-3, decay_mult=0.0),
        'act_step': dict(lr_mult=1e-3, decay_mult=0.0)
    }))
