# The random-erasing baseline for 60 epochs: at 40 epochs it reached 94.69 single-view with a
# training loss (0.61) still above the label-smoothed minimum (0.50), and the regulariser's paper
# gains most on long schedules, so this run only lengthens the cosine schedule. Measured: 95.02
# top-1 with one view per test image (seed 0), the benchmark ResNet-18 row is 94.9; see
# configs/baselines/README.md.
_base_ = ['./resnet18-w16_1xb128-nhwc-erase-40e_fashionmnist.py']

train_cfg = dict(max_epochs=60, val_interval=5)
