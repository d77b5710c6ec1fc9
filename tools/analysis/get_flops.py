"""Parameters and FLOPs of any config's model (classifier, detector or segmentor).

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--backbone] [--cfg-options k=v ...]

FLOPs are counted by mmengine.analysis (fvcore convention: one multiply-add is one FLOP, the
convention the papers' "FLOPs" use) for one image through the model's ``mode='tensor'`` forward;
``--backbone`` counts the backbone alone (``model.backbone``), as papers report backbone sizes.
"""
import argparse

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.utils import load_config


class _TensorForward(torch.nn.Module):
    """Exposes ``model(inputs, data_samples, mode='tensor')`` as a one-argument module."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def dummy_data_samples(scope: str, height: int, width: int):
    """Meta-only data samples: two-stage detectors read image shapes from them."""
    meta = dict(img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
                batch_input_shape=(height, width), scale_factor=(1.0, 1.0))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return [DetDataSample(metainfo=meta)]
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample
        return [SegDataSample(metainfo=meta)]
    return None


def _in_channels(cfg) -> int:
    # mmpretrain configs keep the preprocessor at top level; mmdet/mmseg inside the model
    preprocessor = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    return len(preprocessor.get('mean', [0, 0, 0]))


def complexity(cfg, height: int, width: int) -> dict:
    """Build the config's model and count its parameters and FLOPs at (height, width)."""
    import mmengine.registry
    scope = cfg.get('default_scope', 'mmpretrain')
    init_default_scope(scope)
    model = mmengine.registry.MODELS.build(cfg.model).eval()
    in_channels = _in_channels(cfg)
    wrapped = _TensorForward(model, dummy_data_samples(scope, height, width))
    inputs = torch.rand(1, in_channels, height, width)
    with torch.no_grad():
        info = get_model_complexity_info(wrapped, inputs=(inputs, ), show_table=False,
                                         show_arch=False)
    return dict(params=info['params'], flops=info['flops'])


def backbone_only(cfg, height: int, width: int) -> dict:
    """Parameters and FLOPs of the config's ``model.backbone`` at (height, width)."""
    from mmext.utils.zero_shot_nas import backbone_complexity, build_backbone
    params, flops = backbone_complexity(build_backbone(cfg), (_in_channels(cfg), height, width))
    return dict(params=params, flops=flops)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224], help='input H W')
    parser.add_argument('--backbone', action='store_true',
                        help='count the backbone alone (model.backbone)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    args = parser.parse_args(argv)
    height, width = (args.shape * 2)[:2]
    count = backbone_only if args.backbone else complexity
    result = count(load_config(args.config, args.cfg_options), height, width)
    print(f'| config | input | params | FLOPs |\n| --- | --- | --- | --- |\n'
          f'| {args.config} | {height}x{width} | {result["params"] / 1e6:.2f} M '
          f'| {result["flops"] / 1e9:.3f} G |')
    return result


if __name__ == '__main__':
    main()
