# MDDC (mean-based dynamic distribution calibration, arXiv 2210.05126) with 20% IDN: same
# network and schedule as the cross-entropy config; the head corrects labels PLC-style after a
# 60-iteration warm-up, keeps 256 "clean-looking" features per class, re-estimates the class
# Gaussians every 20 iterations with the recursive robust mean, and adds 16 sampled features
# per class to every batch.
_base_ = ['./ce_resnet18-w16_1xb128-200i_fashionmnist-idn20.py']

model = dict(
    head=dict(
        _delete_=True,
        type='mmext.DistributionCalibrationHead',
        num_classes=10,
        in_channels=128,
        memory_size=256,
        warmup_iters=60,
        calib_interval=20,
        correct_thr=0.5,
        min_count=32,
        loss=dict(type='mmext.DistributionCalibrationLoss', mode='mean', num_samples=16,
                  sample_weight=1.0)))
