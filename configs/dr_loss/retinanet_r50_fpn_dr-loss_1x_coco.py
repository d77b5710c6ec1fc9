# RetinaNet R-50 FPN 1x COCO with the focal loss replaced by the DR loss (arXiv 1907.10156).
# Changes from mmdet's focal-loss RetinaNet follow the official config
# (idstcv/DR_loss configs/dr_retina/dr_R-50-FPN_1x.yaml): background IoU threshold 0.5
# (BG_IOU_THRESHOLD), classifier bias initialised for a prior probability of 0.5 (PRIOR_PROB)
# and a test score threshold of 0.2 (INFERENCE_TH); schedule, lr 0.01 at batch 16 unchanged.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        type='mmext.DRRetinaHead',
        loss_cls=dict(
            _delete_=True,
            type='mmext.DRLoss',
            use_sigmoid=True,
            pos_lambda=1.0,
            neg_lambda=0.1 / 1.252762968495368,  # 0.1 / log(3.5)
            L=6.0,
            tau=4.0,
            margin=0.5),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.5))),
    train_cfg=dict(assigner=dict(neg_iou_thr=0.5)),
    test_cfg=dict(score_thr=0.2))
