# The compression SGD recipe with the quantizer optimizer of the LTS paper mirrors (configs/lts,
# arXiv:2211.08544): as in the official code, the network weights train with SGD and the LSQ step
# sizes with Adam at lr 1e-4 (1e-3 x the weights' 0.1) without weight decay, under the same
# learning-rate schedule (mmext.SGDAdam runs both in one optimizer).
_base_ = ['./compression_sgd.py']

optim_wrapper = dict(
    optimizer=dict(type='mmext.SGDAdam'),
    paramwise_cfg=dict(custom_keys={
        'weight_step': dict(lr_mult=1e-3, decay_mult=0.0, adam=True),
        'act_step': dict(lr_mult=1e-3, decay_mult=0.0, adam=True)
    }))
