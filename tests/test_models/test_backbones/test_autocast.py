"""Every mmext backbone runs forward + backward under CPU autocast (bfloat16), the AMP of CPU
runs, at an input size that is no multiple of its windows or patches."""
import pytest
import torch
from test_dilateformer import SMALL as DILATEFORMER
from test_elsa_swin import SMALL as ELSA_SWIN
from test_genet import TINY as GENET
from test_kvt import SMALL as KVT_ARCH
from test_pslt import SMALL as PSLT_ARCH
from test_solider_swin import TINY as SOLIDER_SWIN
from test_stvit import DEIT_TINY, TINY as STVIT_SWIN
from test_supervit import TINY as SUPERVIT
from test_transreid_ssl import TINY as TRANSREID_VIT
from test_zennet import TINY as ZENNET

from mmext.models import backbones as B

VIT = dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32)

CASES = {
    'DilateFormer': lambda: B.DilateFormer(DILATEFORMER, out_indices=(1, 3)),
    'PSLT': lambda: B.PSLT(PSLT_ARCH, window_size=3, out_indices=(2, 3)),
    'ELSASwin': lambda: B.ELSASwin(ELSA_SWIN, out_indices=(1, 3)),
    'KVT': lambda: B.KVT(KVT_ARCH, img_size=32, patch_size=8),
    'STViT': lambda: B.STViT(arch=STVIT_SWIN, window_size=4, num_semantic=2, out_indices=(2, 3)),
    'STViTDeiT': lambda: B.STViTDeiT(arch=DEIT_TINY, img_size=32, patch_size=4,
                                     num_semantic_tokens=9, semantic_layer=1),
    'SuperViT': lambda: B.SuperViT(arch=SUPERVIT, patch_size=4, token_grids=(4, 7),
                                   keep_rates=(0.5, 1.0), prune_layers=(1, 2)),
    'GENet': lambda: B.GENet(arch=GENET, out_indices=(1, 3)),
    'ZenNet': lambda: B.ZenNet(arch=ZENNET),
    'ScaledReLUViT': lambda: B.ScaledReLUViT(arch=VIT, img_size=32, patch_size=4,
                                             stem_cfg=dict(stem_channels=8)),
    'TransReIDSSLViT': lambda: B.TransReIDSSLViT(arch=TRANSREID_VIT, img_size=32, stem_channels=8),
    'SOLIDERSwin': lambda: B.SOLIDERSwin(arch=SOLIDER_SWIN, semantic_weight=0.5,
                                         out_indices=(1, 3)),
}


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _tensors(item)]


@pytest.mark.parametrize('name', sorted(CASES))
def test_bfloat16_autocast_forward_backward(name):
    torch.manual_seed(0)
    model = CASES[name]()
    model.train()
    # the final norms run in float32 under autocast: check the bfloat16 on the layers' outputs
    dtypes = set()
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            m.register_forward_hook(lambda mod, args, out: dtypes.add(out.dtype))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = _tensors(model(torch.randn(2, 3, 37, 30)))
    assert torch.bfloat16 in dtypes
    assert outs and all(torch.isfinite(o.float()).all() for o in outs)
    # a random projection, since the plain sum of a normalised output has no gradient
    sum((o.float() * torch.randn_like(o.float())).sum() for o in outs).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
