"""Tiny compressed models saved as config + checkpoint, for the compression tool tests."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.models.layers.compression_utils import build_from_config

BACKBONE = dict(type='mmext.CIFARResNet', stage_blocks=(1, 1), in_channels=1, stem_channels=8,
                base_channels=8)
BLOCKS = r'backbone\.layer\d\.\d+\.conv[12]'


def make_config(tmp_path, layer=None, custom_hooks=None, name='cfg.py'):
    model = dict(
        type='ImageClassifier', backbone=BACKBONE, neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=16,
                  loss=dict(type='CrossEntropyLoss')))
    if layer is not None:
        model = dict(type='mmext.CompressedModel', model=model,
                     replace=[dict(pattern=BLOCKS, layer=layer)])
    cfg = Config(dict(model=model, default_scope='mmpretrain',
                      custom_imports=dict(imports=['mmext'], allow_failed_imports=False),
                      custom_hooks=custom_hooks or []))
    path = tmp_path / name
    cfg.dump(str(path))
    return str(path)


def save_checkpoint(tmp_path, config, prepare=None, name='model.pth'):
    """Build ``config``'s model, run one forward (initialises LSQ steps), let ``prepare`` edit
    it, and save it as an mmengine checkpoint."""
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = build_from_config(config)
    model.train()
    model(torch.randn(4, 1, 12, 12), mode='tensor')
    if prepare is not None:
        prepare(model)
    path = tmp_path / name
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(path))
    return str(path), model


def chex_masks(residual=False, seed=0):
    """A ``prepare`` for :func:`save_checkpoint`: random CHEX channel masks (about half of each
    group kept, never none), applied as the hook applies them."""
    from mmext.models.layers.channel_pruning import apply_channel_masks, resnet_channel_groups

    def prepare(model):
        groups = resnet_channel_groups(model, residual)
        gen = torch.Generator().manual_seed(seed)
        masks = {g.name: torch.rand(g.size, generator=gen) < 0.5 for g in groups}
        for m in masks.values():
            m[0] = True
        apply_channel_masks(model, groups, masks)
        prepare.masks = masks

    return prepare
