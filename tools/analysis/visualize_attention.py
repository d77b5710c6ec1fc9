"""Overlay one query's attention on an input image (DilateFormer MSDA, KVT k-NN attention, ELSA).

    python tools/analysis/visualize_attention.py CONFIG [--checkpoint CKPT] --image IMG.png \
        --query Y X [--layer NAME] [--out attn.png] [--input-size H W] [--panel-size PX]

The attention modules are not modified: a forward hook captures the input of the chosen attention
layer during one forward pass, then the chosen query's weights over its keys are recomputed from
the module's own parameters (its q/k projection, scale, kernel size, dilations, top-k):

* ``MultiScaleDilatedAttention`` (DilateFormer, arXiv:2302.01791): softmax weights over the
  ``k x k`` dilated neighbourhood, one panel per dilation (mean over that group's heads) plus the
  mean over all heads.
* ``KNNAttention`` (KVT, arXiv:2106.00515): the ``topk`` selected keys, marked with dots whose
  size follows their weight (mean over heads); the weight the query gives to extra tokens (cls)
  is written in the panel title.
* ``ELSA`` (ELSA, arXiv:2112.12786): the Hadamard attention's softmax weights over the local
  window (mean over heads; the static ghost head is not drawn, it does not depend on the query).

The query ``Y X`` is in pixel coordinates of the input image and is mapped proportionally to the
token grid of the chosen layer (``--layer`` is a module name of ``model.named_modules()``; default:
the first supported attention layer). The image is resized to the model's input size (``--input
-size``, else the test pipeline's crop / resize size, else the backbone's ``img_size``, else 28 for
(Fashion-)MNIST configs, else 224) and normalised by the model's data preprocessor. The picture is
drawn with matplotlib's Agg backend (headless): ``panels x panel-size`` by ``panel-size`` pixels.

For an ``SMMixClassifier`` config, ``--mix-image IMG2`` (instead of ``--query``) draws the two
images as the classifier's own ``smmix()`` mixes them, the pasted token regions tinted.
"""
import argparse
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

import mmext  # noqa: F401
from mmext.models.layers.elsa import ELSA
from mmext.models.layers.knn_attention import KNNAttention, resolve_topk
from mmext.models.layers.msda import MultiScaleDilatedAttention

SUPPORTED_TYPES = (MultiScaleDilatedAttention, KNNAttention, ELSA)


@dataclass
class QueryAttention:
    """Attention of one query over its keys, as recomputed from a module.

    Attributes:
        kind (str): ``'msda'``, ``'knn'`` or ``'elsa'``.
        grid (tuple[int, int]): ``(H, W)`` token grid of the layer.
        query (tuple[int, int]): ``(row, col)`` of the query in that grid.
        weights (Tensor): ``(heads, K)`` softmax weights of the query over its ``K`` keys.
        keys (Tensor): ``(heads, K, 2)`` long ``(row, col)`` of each key in the grid; for
            ``'msda'`` / ``'elsa'`` they may lie outside the map (zero-padding keys), for
            ``'knn'`` extra tokens (cls) have ``(-1, -1)``.
        valid (Tensor): ``(heads, K)`` bool, True where the key is a token of the grid.
        token_index (Tensor, optional): ``(heads, K)`` index of each key in the token sequence
            (``'knn'`` only).
        groups (list[tuple[str, list[int]]]): Panel label and the heads it averages.
    """
    kind: str
    grid: Tuple[int, int]
    query: Tuple[int, int]
    weights: Tensor
    keys: Tensor
    valid: Tensor
    token_index: Optional[Tensor] = None
    groups: List[Tuple[str, List[int]]] = field(default_factory=list)


def _check_query(query: Tuple[int, int], H: int, W: int) -> None:
    if not (0 <= query[0] < H and 0 <= query[1] < W):
        raise ValueError(f'query {tuple(query)} is outside the token grid {(H, W)}')


def _window_keys(query: Tuple[int, int], kernel_size: int, dilation: int) -> Tensor:
    """``(k*k, 2)`` (row, col) of the dilated neighbourhood, row-major, centred on the query."""
    half = (kernel_size - 1) // 2
    off = (torch.arange(kernel_size) - half) * dilation
    rows = query[0] + off[:, None].expand(kernel_size, kernel_size)
    cols = query[1] + off[None, :].expand(kernel_size, kernel_size)
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], -1)


def _inside(keys: Tensor, H: int, W: int) -> Tensor:
    return (keys[..., 0] >= 0) & (keys[..., 0] < H) & (keys[..., 1] >= 0) & (keys[..., 1] < W)


@torch.no_grad()
def msda_query_attention(module: MultiScaleDilatedAttention, x: Tensor,
                         query: Tuple[int, int]) -> QueryAttention:
    """Recompute the MSDA weights of one query.

    Args:
        module (MultiScaleDilatedAttention): The layer.
        x (Tensor): Its input ``(1, H, W, C)``.
        query (tuple[int, int]): ``(row, col)`` in the ``H x W`` map.

    Returns:
        QueryAttention: ``weights`` ``(heads, k*k)``; outside keys hold the share of the softmax
        the module gives them (logit 0 with ``padding_mode='zeros'``, weight 0 with ``'mask'``).
    """
    _, H, W, _ = x.shape
    _check_query(query, H, W)
    heads, d = module.num_heads, module.head_dims
    # same channel order as the module: (qkv, head, head_dim)
    qkv = module.qkv(x[:, query[0]:query[0] + 1, query[1]:query[1] + 1]).reshape(3, heads, d)
    kv = module.qkv(x)[0].reshape(H, W, 3, heads, d)
    q = qkv[0] * module.scale
    hg = heads // len(module.dilations)
    keys = torch.stack([_window_keys(query, module.kernel_size, module.dilations[h // hg])
                        for h in range(heads)])  # (heads, K, 2)
    valid = _inside(keys, H, W)
    rows, cols = keys[..., 0].clamp(0, H - 1), keys[..., 1].clamp(0, W - 1)
    k = kv[rows, cols, 1, torch.arange(heads)[:, None]]  # (heads, K, d)
    logits = (k * q[:, None]).sum(-1).float()
    fill = float('-inf') if module.padding_mode == 'mask' else 0.
    logits = logits.masked_fill(~valid, fill)
    groups = [('mean', list(range(heads)))]
    groups += [(f'dilation {r}', list(range(g * hg, (g + 1) * hg)))
               for g, r in enumerate(module.dilations)]
    return QueryAttention('msda', (H, W), tuple(query), logits.softmax(-1), keys, valid,
                          groups=groups)


@torch.no_grad()
def knn_query_attention(module: KNNAttention, x: Tensor, query: Tuple[int, int],
                        grid: Tuple[int, int]) -> QueryAttention:
    """Recompute the k-NN attention weights of one query (its ``topk`` kept keys).

    Args:
        module (KNNAttention): The layer.
        x (Tensor): Its input ``(1, N, C)``; the first ``N - H*W`` tokens are extra (cls) tokens.
        query (tuple[int, int]): ``(row, col)`` in the patch grid.
        grid (tuple[int, int]): ``(H, W)`` patch grid.

    Returns:
        QueryAttention: ``weights`` ``(heads, topk)``, ``token_index`` of the kept keys.
    """
    _, N, _ = x.shape
    H, W = grid
    extra = N - H * W
    if extra < 0:
        raise ValueError(f'{N} tokens cannot hold a patch grid of {grid}')
    _check_query(query, H, W)
    heads, d = module.num_heads, module.head_dims
    qkv = module.qkv(x[0]).reshape(N, 3, heads, d).permute(1, 2, 0, 3)  # (3, heads, N, d)
    i = extra + query[0] * W + query[1]
    scale = module.qk_scale if module.qk_scale is not None else d**-0.5
    logits = (qkv[1] @ qkv[0][:, i, :, None]).squeeze(-1).float()  # (heads, N)
    keep = resolve_topk(module.topk, N)
    index = logits.topk(keep, dim=-1).indices  # (heads, keep), strongest first
    weights = (logits.gather(-1, index) * scale).softmax(-1)
    patch = index - extra
    valid = patch >= 0
    keys = torch.stack([patch // W, patch % W], -1).masked_fill(~valid[..., None], -1)
    return QueryAttention('knn', (H, W), tuple(query), weights, keys, valid, token_index=index,
                          groups=[(f'top-{keep} of {N}, {heads}-head mean', list(range(heads)))])


@torch.no_grad()
def elsa_query_attention(module: ELSA, x: Tensor, query: Tuple[int, int]) -> QueryAttention:
    """Recompute ELSA's Hadamard attention (softmax over the local window) of one query.

    Args:
        module (ELSA): The layer.
        x (Tensor): Its input ``(1, H, W, C)``.
        query (tuple[int, int]): ``(row, col)`` in the ``H x W`` map.

    Returns:
        QueryAttention: ``weights`` ``(heads, k*k)`` (zero-padding keys keep their share).
    """
    _, H, W, _ = x.shape
    _check_query(query, H, W)
    G, K = module.num_heads, module.kernel_size**2
    qkv = module.pre_proj(x.permute(0, 3, 1, 2))
    q, k, _ = torch.split(qkv, (module.dim_qk, module.dim_qk, module.dim_v), dim=1)
    # The attention generator has a k x k conv: the query's logits depend on its neighbourhood,
    # so it runs on the whole (small) map and the query's column is read out.
    logits = module.attn(q * k * module.scale)[0, :, query[0], query[1]].reshape(G, K)
    keys = _window_keys(query, module.kernel_size, module.dilation)[None].expand(G, K, 2)
    return QueryAttention('elsa', (H, W), tuple(query), logits.float().softmax(-1), keys,
                          _inside(keys, H, W), groups=[(f'{G}-head mean', list(range(G)))])


def find_attention_layer(model: nn.Module, name: Optional[str] = None) -> Tuple[str, nn.Module]:
    """The named supported attention module, or the first one in ``model.named_modules()``."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, SUPPORTED_TYPES)]
    if not layers:
        raise ValueError('the model has no supported attention layer '
                         f'({", ".join(t.__name__ for t in SUPPORTED_TYPES)})')
    if name is None:
        return layers[0]
    for n, m in layers:
        if n == name:
            return n, m
    raise ValueError(f'"--layer" {name!r} is not a supported attention layer; choose one of '
                     f'{[n for n, _ in layers][:20]}')


@torch.no_grad()
def capture_layer_input(model: nn.Module, module: nn.Module, inputs: Tensor) -> Dict[str, object]:
    """Run the backbone once and keep the chosen layer's input (and the ViT patch grid)."""
    store: Dict[str, object] = {}

    # Hooks must return None, else their value would replace the module's input / output.
    def keep_input(m, args):
        store.setdefault('x', args[0].detach())

    def keep_grid(m, args, out):
        # mmpretrain's PatchEmbed returns (tokens, (H, W)): the grid of the ViT tokens.
        store.setdefault('grid', tuple(out[1]))

    handles = [module.register_forward_pre_hook(keep_input)]
    backbone = getattr(model, 'backbone', model)
    patch_embed = getattr(backbone, 'patch_embed', None)
    if isinstance(module, KNNAttention) and patch_embed is not None:
        handles.append(patch_embed.register_forward_hook(keep_grid))
    try:
        backbone(inputs)
    finally:
        for h in handles:
            h.remove()
    if 'x' not in store:
        raise RuntimeError('the chosen attention layer was not called by the backbone forward')
    return store


def query_attention(module: nn.Module, store: Dict[str, object],
                    query: Tuple[int, int]) -> QueryAttention:
    """Dispatch to the recomputation of the module's type."""
    x = store['x']
    if isinstance(module, MultiScaleDilatedAttention):
        return msda_query_attention(module, x, query)
    if isinstance(module, ELSA):
        return elsa_query_attention(module, x, query)
    if isinstance(module, KNNAttention):
        if 'grid' not in store:
            raise ValueError('cannot find the patch grid of the KNNAttention layer (the '
                             'backbone has no "patch_embed")')
        return knn_query_attention(module, x, query, store['grid'])
    raise TypeError(f'unsupported attention module {type(module).__name__}')


def grid_of(module: nn.Module, store: Dict[str, object]) -> Tuple[int, int]:
    if isinstance(module, KNNAttention):
        return tuple(store['grid'])
    return tuple(store['x'].shape[1:3])


def heat_maps(att: QueryAttention) -> List[Tuple[str, np.ndarray]]:
    """One ``(H, W)`` map per panel: the weights of the panel's heads averaged, at the keys."""
    H, W = att.grid
    out = []
    for label, heads in att.groups:
        heat = torch.zeros(H * W, dtype=torch.float64)
        for h in heads:
            v = att.valid[h]
            idx = att.keys[h, v, 0] * W + att.keys[h, v, 1]
            heat.index_add_(0, idx, att.weights[h, v].double())
        out.append((label, (heat / len(heads)).reshape(H, W).numpy()))
    return out


def draw(image: np.ndarray, att: QueryAttention, query_px: Tuple[float, float], out: str,
         panel_size: int = 256, title: str = '') -> None:
    """Write a PNG with one panel per head group: the image with the heat map over it.

    Args:
        image (np.ndarray): ``(h, w, 3)`` uint8 RGB or ``(h, w)`` grey image.
        att (QueryAttention): The recomputed weights.
        query_px (tuple[float, float]): ``(y, x)`` of the query in image pixels.
        out (str): Output PNG path.
        panel_size (int): Side of each panel in pixels. Defaults to 256.
        title (str): Prefix of each panel's title. Defaults to ''.
    """
    # Agg canvas on a bare Figure: no pyplot state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, w = image.shape[:2]
    H, W = att.grid
    maps = heat_maps(att)
    dpi = 100
    fig = Figure(figsize=(len(maps) * panel_size / dpi, panel_size / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    for p, (label, heat) in enumerate(maps):
        ax = fig.add_axes([p / len(maps), 0, 1 / len(maps), 1])
        ax.set_axis_off()
        ax.imshow(image, cmap='gray' if image.ndim == 2 else None, extent=(0, w, h, 0))
        masked = np.ma.masked_where(heat <= 0, heat)
        ax.imshow(masked, cmap='jet', alpha=0.55, extent=(0, w, h, 0), interpolation='nearest',
                  vmin=0, vmax=max(float(heat.max()), 1e-12))
        if att.kind == 'knn':
            rr, cc = np.nonzero(heat)
            ax.scatter((cc + 0.5) * w / W, (rr + 0.5) * h / H,
                       s=20 + 300 * heat[rr, cc] / heat.max(), facecolors='none',
                       edgecolors='white', linewidths=0.8)
            extra = float(att.weights[~att.valid].sum()) / att.weights.shape[0]
            label = f'{label}\ncls weight {extra:.2f}'
        ax.plot(query_px[1], query_px[0], marker='*', color='white', markeredgecolor='black',
                markersize=12)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.text(0.02, 0.98, f'{title}\n{label}', transform=ax.transAxes, va='top', ha='left',
                fontsize=7, color='white', bbox=dict(facecolor='black', alpha=0.6, lw=0))
    fig.savefig(out, dpi=dpi)


def input_size(cfg, override: Optional[Sequence[int]] = None) -> Tuple[int, int]:
    """Model input ``(H, W)``: see the module docstring for the order of the sources."""
    if override:
        return (int(override[0]), int(override[-1]))
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset', {}) if isinstance(loader, dict) else {}
    for t in reversed(dataset.get('pipeline', None) or cfg.get('test_pipeline', None) or []):
        for key in ('crop_size', 'scale'):
            size = t.get(key)
            if isinstance(size, int):
                return (size, size)
            if isinstance(size, (tuple, list)) and len(size) == 2:
                return (int(size[1]), int(size[0]))  # mmcv scales are (w, h)
    img_size = cfg.model.get('backbone', {}).get('img_size')
    if img_size:
        return (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    if 'MNIST' in str(dataset.get('type', '')):
        return (28, 28)
    return (224, 224)


def load_image(path: str, size: Tuple[int, int], channels: int) -> Tuple[np.ndarray, Tensor]:
    """The original image (for display) and the resized ``(C, H, W)`` uint8 model input.

    Three-channel inputs are BGR, as mmcv's ``LoadImageFromFile`` gives them; the data
    preprocessor's ``to_rgb`` then does what it does in testing.
    """
    from PIL import Image
    img = Image.open(path)
    grey = channels == 1
    shown = np.asarray(img.convert('L' if grey else 'RGB'))
    resized = np.asarray(img.convert('L' if grey else 'RGB').resize((size[1], size[0]),
                                                                     Image.BILINEAR))
    tensor = torch.from_numpy(resized.copy())
    tensor = tensor[None] if grey else tensor.flip(-1).permute(2, 0, 1)
    return shown, tensor.contiguous()


def build_model(cfg, checkpoint: Optional[str] = None) -> nn.Module:
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from mmext.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.copy()
    # as mmengine's Runner does: the top-level data_preprocessor (mean / std) is the model's
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.eval()


def visualize(cfg, image: str, query_px: Tuple[float, float], out: str = 'attn.png',
              checkpoint: Optional[str] = None, layer: Optional[str] = None,
              size: Optional[Sequence[int]] = None, panel_size: int = 256,
              model: Optional[nn.Module] = None) -> QueryAttention:
    """Build the model, run it on the image and write the picture; returns the weights."""
    model = model if model is not None else build_model(cfg, checkpoint)
    name, module = find_attention_layer(model, layer)
    pre = getattr(model, 'data_preprocessor', None)
    mean = getattr(pre, 'mean', None)
    channels = mean.shape[0] if mean is not None else cfg.model.get('backbone', {}).get(
        'in_channels', 3)
    shown, tensor = load_image(image, input_size(cfg, size), channels)
    if pre is not None:
        inputs = pre(dict(inputs=[tensor], data_samples=None), False)['inputs']
    else:
        inputs = tensor[None].float()
    store = capture_layer_input(model, module, inputs)
    H, W = grid_of(module, store)
    h, w = shown.shape[:2]
    if not (0 <= query_px[0] < h and 0 <= query_px[1] < w):
        raise ValueError(f'"--query" {tuple(query_px)} is outside the image of size {(h, w)}')
    query = (min(int(query_px[0] * H / h), H - 1), min(int(query_px[1] * W / w), W - 1))
    att = query_attention(module, store, query)
    draw(shown, att, query_px, out, panel_size, title=f'{name} q{query}')
    return att


def _denormalize(model: nn.Module, inputs: Tensor) -> np.ndarray:
    """``(B, C, H, W)`` model inputs back to displayable ``(B, H, W[, 3])`` uint8 images."""
    pre = getattr(model, 'data_preprocessor', None)
    x = inputs
    if getattr(pre, '_enable_normalize', False):
        x = x * pre.std + pre.mean
    x = x.clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    if x.shape[-1] == 1:
        return x[..., 0]
    # BGR model inputs (to_rgb=False) are flipped back to RGB for display
    return x if getattr(pre, '_channel_conversion', False) else x[..., ::-1]


@torch.no_grad()
def visualize_smmix(cfg, image: str, mix_image: str, out: str = 'smmix.png',
                    checkpoint: Optional[str] = None, size: Optional[Sequence[int]] = None,
                    panel_size: int = 256, model: Optional[nn.Module] = None) -> Dict[str, Tensor]:
    """Mix two images with an SMMix classifier's own ``smmix()`` and draw its mixed regions.

    SMMix ("SMMix: Self-Motivated Image Mixing for Vision Transformers", arXiv:2212.12977) pastes
    the most attended square of one image over the least attended square of the other. The
    picture has one panel per mixed image, the pasted (source) tokens tinted.

    Returns:
        dict: The ``smmix()`` output (``inputs``, ``source_mask``, ``lam``...).
    """
    model = model if model is not None else build_model(cfg, checkpoint)
    if not hasattr(model, 'smmix'):
        raise ValueError(f'{type(model).__name__} has no smmix(): "--mix-image" needs an '
                         'SMMixClassifier config')
    pre = model.data_preprocessor
    channels = pre.mean.shape[0] if getattr(pre, 'mean', None) is not None else 3
    hw = input_size(cfg, size)
    tensors = [load_image(p, hw, channels)[1] for p in (image, mix_image)]
    inputs = pre(dict(inputs=tensors, data_samples=None), False)['inputs']
    mixed = model.smmix(inputs, torch.eye(2, model.num_classes))
    shown = _denormalize(model, mixed['inputs'])
    side = model.side

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    dpi = 100
    fig = Figure(figsize=(2 * panel_size / dpi, panel_size / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    h, w = hw
    for i in range(2):
        ax = fig.add_axes([i / 2, 0, 1 / 2, 1])
        ax.set_axis_off()
        ax.imshow(shown[i], cmap='gray' if shown.ndim == 3 else None, extent=(0, w, h, 0))
        mask = mixed['source_mask'][i].reshape(side, side).float().numpy()
        ax.imshow(np.ma.masked_where(mask == 0, mask), cmap='autumn', alpha=0.35, vmin=0,
                  vmax=1, extent=(0, w, h, 0), interpolation='nearest')
        ax.text(0.02, 0.98, f'image {i} + region of image {1 - i}\n'
                f'own area {float(mixed["lam"]):.2f}', transform=ax.transAxes, va='top',
                ha='left', fontsize=7, color='white', bbox=dict(facecolor='black', alpha=0.6,
                                                                lw=0))
    fig.savefig(out, dpi=dpi)
    return mixed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--image', required=True)
    parser.add_argument('--query', nargs=2, type=float, default=None, metavar=('Y', 'X'),
                        help='query position in input-image pixels (required unless '
                        '--mix-image)')
    parser.add_argument('--mix-image', default=None,
                        help='SMMix configs: draw the regions SMMix mixes between --image and '
                        'this image instead of an attention map')
    parser.add_argument('--layer', default=None,
                        help='module name of the attention layer (default: the first one)')
    parser.add_argument('--out', default='attn.png')
    parser.add_argument('--input-size', nargs='+', type=int, default=None, metavar='H W')
    parser.add_argument('--panel-size', type=int, default=256)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    from mmext.utils import load_config
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.mix_image:
        mixed = visualize_smmix(cfg, args.image, args.mix_image, args.out, args.checkpoint,
                                args.input_size, args.panel_size)
        print(f'SMMix regions (own area {float(mixed["lam"]):.2f}) written to {args.out}')
        return
    if args.query is None:
        raise ValueError('"--query Y X" is required (unless --mix-image is given)')
    att = visualize(cfg, args.image, tuple(args.query), args.out, args.checkpoint, args.layer,
                    args.input_size, args.panel_size)
    print(f'{att.kind} attention of query {att.query} in grid {att.grid} written to {args.out}')


if __name__ == '__main__':
    main()
