"""Per-layer report of a compressed model: bit-widths, sparsity, conformance to its claims.

    python tools/analysis/compression_report.py CONFIG CHECKPOINT [--json OUT.json]

Every conv / linear layer is listed with its weight / activation bit-width and weight sparsity.
Compressed layers are checked against what they claim: LBC layers are N:M sparse (every group of
M consecutive weights along the input dim has at most N non-zeros), ReSTE layers hold two weight
values per output channel, LSQ layers' weights lie on their quantization grid, and layers in a
``GaPHook`` partition of the config reach its target sparsity. Exit code 1 if any check fails.
"""
import argparse
import json
import sys

from mmengine.config import Config

import mmext  # noqa: F401  (registers every mmext part)
from mmext.models.layers.compression_utils import build_from_config, layer_report


def format_rows(rows) -> str:
    head = f"{'layer':<40} {'type':<12} {'W bits':>6} {'A bits':>6} {'sparsity':>8}  check"
    lines = [head, '-' * len(head)]
    for r in rows:
        flag = '' if r['ok'] else '  <-- FAIL'
        lines.append(f"{r['name']:<40} {r['type']:<12} {r['weight_bits']:>6} "
                     f"{r['act_bits']:>6} {r['sparsity']:>8.4f}  {r['check']}{flag}")
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--json', help='also write the rows to this JSON file')
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    model = build_from_config(cfg, args.checkpoint)
    rows = layer_report(model, cfg)
    print(format_rows(rows))
    checked = [r for r in rows if r['check'] != '-']
    failed = [r['name'] for r in rows if not r['ok']]
    total = sum(1 for _ in rows)
    print(f'\n{total} layers, {len(checked)} with a compression claim; conformance: '
          f'{"OK" if not failed else "FAIL (" + ", ".join(failed) + ")"}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
