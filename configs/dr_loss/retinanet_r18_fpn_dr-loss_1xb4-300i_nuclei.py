# DR-loss RetinaNet on the nuclei tiles: the focal baseline with the classification loss,
# background IoU threshold (0.5), classifier prior (0.5) and test score threshold (0.2) of the
# official DR-loss config (idstcv/DR_loss), as in retinanet_r50_fpn_dr-loss_1x_coco.py.
_base_ = ['./retinanet_r18_fpn_focal_1xb4-300i_nuclei.py']

model = dict(
    bbox_head=dict(
        type='mmext.DRRetinaHead',
        loss_cls=dict(_delete_=True, type='mmext.DRLoss', use_sigmoid=True),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.5))),
    train_cfg=dict(assigner=dict(neg_iou_thr=0.5)),
    test_cfg=dict(score_thr=0.2))
