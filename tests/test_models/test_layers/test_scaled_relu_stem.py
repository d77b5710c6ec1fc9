import torch
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.layers.scaled_relu_stem import ScaledReLUStem


def test_stem_matches_reference_and_shapes():
    torch.manual_seed(0)
    stem = ScaledReLUStem(in_channels=1, embed_dims=12, stem_channels=6, patch_size=4,
                          input_size=32).eval()
    x = torch.randn(2, 1, 32, 32)
    y = x
    for m in stem.convs:  # scaled ReLU = ReLU(BN(conv))
        y = F.conv2d(y, m.conv.weight, None, m.conv.stride, m.conv.padding)
        y = F.relu(F.batch_norm(y, m.bn.running_mean, m.bn.running_var, m.bn.weight,
                                m.bn.bias, False, 0., m.bn.eps))
    ref = F.conv2d(y, stem.projection.weight, stem.projection.bias, 4).flatten(2)
    tokens, hw = stem(x)
    assert hw == stem.init_out_size == (4, 4)
    torch.testing.assert_close(tokens, ref.transpose(1, 2))


def test_stem_any_input_size_and_ablation():
    stem = ScaledReLUStem(embed_dims=8, stem_channels=4, input_size=None)
    tokens, hw = stem(torch.randn(1, 3, 50, 37))
    # (50, 37) -> stride-2 conv (25, 19) -> padded to multiples of 8 -> (4, 3) tokens
    assert hw == stem.out_size((50, 37)) == (4, 3)
    assert tokens.shape == (1, 12, 8)
    plain = ScaledReLUStem(embed_dims=8, stem_channels=4, scaled=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())


def test_default_stem_has_overall_stride_16():
    stem = ScaledReLUStem(embed_dims=384)
    assert stem.total_stride == 16 and stem.init_out_size == (14, 14)
