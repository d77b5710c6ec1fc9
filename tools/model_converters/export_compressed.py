"""Bake a compressed model's weights into a plain checkpoint.

    python tools/model_converters/export_compressed.py CONFIG CHECKPOINT OUT.pth \
        [--out-config OUT.py]

Masks are applied (LBC), weights binarized and scaled (ReSTE) or quantized (LSQ), and the
auxiliary tensors (combination scores, step sizes, freeze masks) dropped, so ``OUT.pth`` loads
strictly into the host model built without the mmext layers (``CompressedModel`` unwrapped,
``conv_cfg`` reset). ``meta['compression']`` keeps each layer's claim (bits, steps, N:M) for the
deployment runtime; activation quantization is not representable in the plain model.

A channel-pruned model (a config with ``mmext.CHEXHook``) is exported as a really smaller network:
every channel whose output is identically zero (BN weight and bias zeroed by the hook's masks)
is sliced out of its convs, BNs and, with residual pruning, the classifier; ``OUT.pth`` holds the
smaller weights and ``OUT.py`` (or ``--out-config``) the config building that network
(``mmext.ChannelPrunedModel``), for ``tools/test.py``, ``tools/analysis/get_flops.py`` and
``tools/analysis/benchmark_throughput.py``.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

import mmext  # noqa: F401  (registers every mmext part)
from mmext.models.layers.channel_pruning import (channel_masks_from_weights, prune_channels,
                                                resnet_channel_groups)
from mmext.models.layers.compression_utils import (build_from_config, config_hook,
                                                   export_state_dict, plain_model_cfg)


def export_pruned(cfg, model, hook_cfg, checkpoint: str, out: str, out_config: str) -> int:
    """Slice the pruned channels away; write the smaller checkpoint and its config."""
    dense = sum(p.numel() for p in model.parameters())
    groups = resnet_channel_groups(model, hook_cfg.get('prune_residual', False))
    channels = prune_channels(model, groups, channel_masks_from_weights(model, groups))
    model_cfg = plain_model_cfg(cfg.model)
    pruned_cfg = dict(type='mmext.ChannelPrunedModel', model=model_cfg, channels=channels)
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(channels=channels, plain_model=model_cfg, pruned_model=pruned_cfg,
                              source=checkpoint)), out)
    cfg.model = pruned_cfg
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or []
                        if not str(h.get('type', '')).endswith('CHEXHook')]
    cfg.dump(out_config)
    params = sum(p.numel() for p in model.parameters())
    print(f'wrote {out} and {out_config}: {len(channels)} resized layers, parameters '
          f'{dense} -> {params}')
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file of the compressed model')
    parser.add_argument('checkpoint', help='checkpoint of the compressed model')
    parser.add_argument('out', help='output checkpoint path')
    parser.add_argument('--out-config', help='config of a channel-pruned export (default: OUT '
                        'with a .py suffix)')
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    model = build_from_config(cfg, args.checkpoint)
    hook = config_hook(cfg, 'CHEXHook')
    if hook is not None:
        out_config = args.out_config or osp.splitext(args.out)[0] + '.py'
        return export_pruned(cfg, model, hook, args.checkpoint, args.out, out_config)
    state, info = export_state_dict(model)
    torch.save(
        dict(state_dict=state,
             meta=dict(compression=info, plain_model=plain_model_cfg(cfg.model),
                       source=args.checkpoint)), args.out)
    print(f'wrote {args.out}: {len(state)} tensors, {len(info)} compressed layers')
    return 0


if __name__ == '__main__':
    sys.exit(main())
