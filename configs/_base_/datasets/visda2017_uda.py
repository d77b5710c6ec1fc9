# VisDA-2017 classification (12 classes) for unsupervised domain adaptation, with the official
# CDTrans image lists (CDTrans/CDTrans data/visda): source = synthetic renderings
# (train/train_image_list.txt), target = real images (validation/valid_image_list.txt), entries
# "<class>/<image> <label>" relative to each split's folder under data/visda. Pipelines are left
# to the configs. The metric is the VisDA protocol's mean per-class accuracy (= macro recall),
# with the overall top-1. Names carry a visda_ prefix so that the file can be a second base.
visda_num_classes = 12
visda_source = dict(type='CustomDataset', data_root='data/visda',
                    ann_file='train/train_image_list.txt', data_prefix='train')
visda_target = dict(type='CustomDataset', data_root='data/visda',
                    ann_file='validation/valid_image_list.txt', data_prefix='validation')
visda_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', items=('recall', ), average='macro'),
]
