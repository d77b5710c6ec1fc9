"""Bake a compressed model's weights into a plain checkpoint.

    python tools/model_converters/export_compressed.py CONFIG CHECKPOINT OUT.pth

Masks are applied (LBC), weights binarized and scaled (ReSTE) or quantized (LSQ), and the
auxiliary tensors (combination scores, step sizes, freeze masks) dropped, so ``OUT.pth`` loads
strictly into the host model built without the mmext layers (``CompressedModel`` unwrapped,
``conv_cfg`` reset). ``meta['compression']`` keeps each layer's claim (bits, steps, N:M) for the
deployment runtime; activation quantization is not representable in the plain model.
"""
import argparse
import sys

import torch
from mmengine.config import Config

import mmext  # noqa: F401  (registers every mmext part)
from mmext.models.layers.compression_utils import (build_from_config, export_state_dict,
                                                   plain_model_cfg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file of the compressed model')
    parser.add_argument('checkpoint', help='checkpoint of the compressed model')
    parser.add_argument('out', help='output checkpoint path')
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    model = build_from_config(cfg, args.checkpoint)
    state, info = export_state_dict(model)
    torch.save(
        dict(state_dict=state,
             meta=dict(compression=info, plain_model=plain_model_cfg(cfg.model),
                       source=args.checkpoint)), args.out)
    print(f'wrote {args.out}: {len(state)} tensors, {len(info)} compressed layers')
    return 0


if __name__ == '__main__':
    sys.exit(main())
