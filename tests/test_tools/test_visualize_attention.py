"""Tests of tools/analysis/visualize_attention.py: recomputed weights reproduce the modules."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmext.models.layers.elsa import ELSA
from mmext.models.layers.knn_attention import KNNAttention
from mmext.models.layers.msda import MultiScaleDilatedAttention

ROOT = Path(__file__).parents[2]
_spec = importlib.util.spec_from_file_location(
    'visualize_attention', ROOT / 'tools/analysis/visualize_attention.py')
va = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(va)


def _capture(module, proj_name, x):
    """Run ``module(x)`` and return the input of its output projection (the attention output)."""
    store = {}

    def keep(m, args):
        store['out'] = args[0].detach()  # returns None: the input is left as is

    handle = getattr(module, proj_name).register_forward_pre_hook(keep)
    with torch.no_grad():
        module(x)
    handle.remove()
    return store['out']


def _msda_reference_output(module, x, att):
    """Weight the module's value vectors with the recomputed weights, written out directly."""
    _, H, W, _ = x.shape
    heads, d = module.num_heads, module.head_dims
    v = module.qkv(x)[0].reshape(H, W, 3, heads, d)[:, :, 2]
    out = torch.zeros(heads, d)
    for h in range(heads):
        for t in range(att.weights.shape[1]):
            r, c = att.keys[h, t].tolist()
            if 0 <= r < H and 0 <= c < W:
                out[h] += att.weights[h, t] * v[r, c, h]
    return out.reshape(-1)


def _knn_reference_output(module, x, att):
    N = x.shape[1]
    heads, d = module.num_heads, module.head_dims
    v = module.qkv(x[0]).reshape(N, 3, heads, d)[:, 2]
    out = torch.zeros(heads, d)
    for h in range(heads):
        for w, j in zip(att.weights[h], att.token_index[h]):
            out[h] += w * v[j, h]
    return out.reshape(-1)


def _elsa_reference_output(module, x, att):
    _, H, W, _ = x.shape
    G = module.num_heads
    v = module.pre_proj(x.permute(0, 3, 1, 2))[0, -module.dim_v:]  # (dim_v, H, W)
    v = v.reshape(G, module.dim_v // G, H, W)
    mul, add = module.ghost_filters()
    out = torch.zeros(G, module.dim_v // G)
    for g in range(G):
        for t in range(att.weights.shape[1]):
            r, c = att.keys[g, t].tolist()
            if 0 <= r < H and 0 <= c < W:
                m = mul[g, :, t] if mul is not None else 1.
                a = add[g, :, t] if add is not None else 0.
                out[g] += v[g, :, r, c] * (m * att.weights[g, t] + a)
    return out.reshape(-1)


@pytest.mark.parametrize('padding_mode', ['zeros', 'mask'])
@pytest.mark.parametrize('query', [(0, 0), (3, 5), (6, 6)])
def test_msda_weights_reproduce_module(padding_mode, query):
    torch.manual_seed(0)
    module = MultiScaleDilatedAttention(12, 6, kernel_size=3, dilations=(1, 2, 3),
                                        padding_mode=padding_mode).eval()
    x = torch.randn(1, 7, 7, 12)
    att = va.msda_query_attention(module, x, query)
    assert att.weights.shape == (6, 9)
    torch.testing.assert_close(att.weights.sum(-1), torch.ones(6))
    if padding_mode == 'mask':
        assert (att.weights[~att.valid] == 0).all()
    expected = _capture(module, 'proj', x)[0, query[0], query[1]]
    with torch.no_grad():
        got = _msda_reference_output(module, x, att)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # the dilation of each head group is applied: group 2 (dilation 3) reaches 3 cells away
    assert (att.keys[4, 0] - torch.tensor(query)).tolist() == [-3, -3]


@pytest.mark.parametrize('topk', [5, 0.5, None])
def test_knn_weights_reproduce_module(topk):
    torch.manual_seed(0)
    module = KNNAttention(12, 3, topk=topk).eval()
    H, W = 4, 5
    x = torch.randn(1, 1 + H * W, 12)  # one cls token
    query = (2, 3)
    att = va.knn_query_attention(module, x, query, (H, W))
    keep = {5: 5, 0.5: 11, None: 21}[topk]
    assert att.weights.shape == (3, keep)
    assert att.keys.shape == (3, keep, 2)
    expected = _capture(module, 'proj', x)[0, 1 + query[0] * W + query[1]]
    with torch.no_grad():
        got = _knn_reference_output(module, x, att)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('lam,gamma', [(1., 1.), (0., 1.), (0., 0.)])
@pytest.mark.parametrize('query', [(0, 6), (3, 2)])
def test_elsa_weights_reproduce_module(lam, gamma, query):
    torch.manual_seed(0)
    module = ELSA(16, 2, kernel_size=5, dilation=1, group_width=4, lam=lam, gamma=gamma).eval()
    with torch.no_grad():
        if module.ghost_add is not None:
            module.ghost_add.normal_()  # make the additive ghost head matter in the check
    x = torch.randn(1, 6, 7, 16)
    att = va.elsa_query_attention(module, x, query)
    assert att.weights.shape == (2, 25)
    expected = _capture(module, 'post_proj', x)[0, query[0], query[1]]
    with torch.no_grad():
        got = _elsa_reference_output(module, x, att)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_query_outside_grid_raises():
    module = MultiScaleDilatedAttention(6, 3, dilations=(1, 2, 3))
    with pytest.raises(ValueError, match='outside the token grid'):
        va.msda_query_attention(module, torch.randn(1, 4, 4, 6), (4, 0))


CONFIGS = {
    'msda': ('configs/dilateformer/dilateformer-mini_1xb128-1e_fashionmnist.py', 'proj',
             _msda_reference_output, 4),
    'knn': ('configs/kvt/kvt-mini_1xb128-1e_fashionmnist.py', 'proj', _knn_reference_output, 1),
    'elsa': ('configs/elsa/elsa-swin-nano_1xb128-300it_fashionmnist.py', 'post_proj',
             _elsa_reference_output, 1),
}


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_tool_on_config_model(kind, tmp_path):
    """End to end on the (tiny) Fashion-MNIST configs: PNG written, weights match the model."""
    path, proj, reference, panels = CONFIGS[kind]
    cfg = Config.fromfile(str(ROOT / path))
    torch.manual_seed(0)
    model = va.build_model(cfg)
    name, module = va.find_attention_layer(model)
    image = tmp_path / 'img.png'
    yy, xx = np.mgrid[0:56, 0:56]
    Image.fromarray(((xx * 4 + yy * 2) % 256).astype(np.uint8)).convert('RGB').save(image)

    seen = {}

    def keep(key):
        def hook(m, args):
            seen.setdefault(key, args[0].detach())  # returns None: the input is left as is
        return hook

    handles = [module.register_forward_pre_hook(keep('x')),
               getattr(module, proj).register_forward_pre_hook(keep('out'))]
    out = tmp_path / 'attn.png'
    att = va.visualize(cfg, str(image), (30., 12.), str(out), model=model, panel_size=64)
    for h in handles:
        h.remove()

    assert att.kind == kind
    png = Image.open(out)
    png.load()
    assert png.format == 'PNG' and png.size == (64 * panels, 64)
    # the query (30, 12) of the 56x56 image, mapped proportionally onto the layer's grid
    H, W = att.grid
    assert att.query == (30 * H // 56, 12 * W // 56)
    if kind == 'knn':
        extra = seen['x'].shape[1] - H * W
        expected = seen['out'][0, extra + att.query[0] * W + att.query[1]]
    else:
        expected = seen['out'][0, att.query[0], att.query[1]]
    with torch.no_grad():
        got = reference(module, seen['x'], att)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_cli_main_and_bad_layer(tmp_path):
    image = tmp_path / 'img.png'
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (32, 40, 3), np.uint8)).save(image)
    out = tmp_path / 'a.png'
    cfg = str(ROOT / CONFIGS['knn'][0])
    va.main([cfg, '--image', str(image), '--query', '5', '30', '--out', str(out),
             '--layer', 'backbone.layers.1.attn', '--panel-size', '50'])
    assert Image.open(out).size == (50, 50)
    with pytest.raises(ValueError, match='not a supported attention layer'):
        va.main([cfg, '--image', str(image), '--query', '5', '5', '--layer', 'backbone.nope',
                 '--out', str(out)])


def test_smmix_regions(tmp_path):
    """SMMix mode draws the classifier's own mixing: one panel per mixed image."""
    images = []
    for i in range(2):
        images.append(tmp_path / f'{i}.png')
        Image.fromarray(np.full((28, 28), 40 + 150 * i, np.uint8)).save(images[-1])
    cfg = Config.fromfile(str(ROOT / 'configs/smmix/vit-tiny-p4_smmix_1xb128-1e_fashionmnist.py'))
    out = tmp_path / 'mix.png'
    mixed = va.visualize_smmix(cfg, str(images[0]), str(images[1]), str(out), panel_size=60)
    assert Image.open(out).size == (120, 60)
    # the drawn mask is the one the pixels were pasted by: denormalised pixels of the pasted
    # tokens come from the other (constant) image
    shown = va._denormalize(va.build_model(cfg), mixed['inputs'])
    side = int(mixed['source_mask'].shape[1]**0.5)
    mask = mixed['source_mask'][0].reshape(side, side).repeat_interleave(28 // side, 0)
    mask = mask.repeat_interleave(28 // side, 1).numpy()
    assert mask.any() and not mask.all()
    assert np.abs(shown[0][mask].astype(int) - 190).max() <= 1
    assert np.abs(shown[0][~mask].astype(int) - 40).max() <= 1
    with pytest.raises(ValueError, match='has no smmix'):
        va.visualize_smmix(Config.fromfile(str(ROOT / CONFIGS['knn'][0])), str(images[0]),
                           str(images[1]), str(out))
