# Random-initialisation reference: the ResNet-8 of the Fashion-MNIST runs with its initial
# weights, evaluated like them. The supervised config run for one epoch at learning rate 0:
# no weight changes, only the batch-norm running statistics are estimated on the training
# images (as every trained run's are), so the evaluation sees normalised features.
_base_ = ['./resnet8-w16_supervised_1xb128-20e_fashionmnist.py']

optim_wrapper = dict(optimizer=dict(lr=0.))
max_epochs = 1
param_scheduler = []
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
