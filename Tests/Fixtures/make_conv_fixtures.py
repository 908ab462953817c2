#!/usr/bin/env python3
"""Regenerates the PyTorch golden fixtures of Conv2D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D.

    pip install torch==2.13.0 numpy
    python3 Tests/Fixtures/make_conv_fixtures.py     # writes Tests/Fixtures/conv_*.safetensors, pool_*.safetensors

LSTMKit is channels-last ([B, H, W, C]); PyTorch is channels-first, so the input is permuted in
(x.permute(0, 3, 1, 2)) and the output back (y.permute(0, 2, 3, 1)). Keras 'same' padding (the odd pixel after)
is an explicit F.pad: zeros for the convolution, -inf for the max pool; the 'same' average divides by the pixels
inside the frame (the mean of the zero-padded input over the mean of a zero-padded ones tensor).

Each file (Float32, CPU, seeded) holds:
  config        F64. conv: H, W, C, filters, KH, KW, SH, SW, DH, DW, same, activation (0 linear 1 relu 2 tanh
                3 sigmoid), bias, B.  pool: H, W, C, PH, PW, SH, SW, same, kind (0 max, 1 average, 2 global average), B
  weight, bias  conv only: PyTorch's nn.Conv2d state dict (weight [O, C, KH, KW]); bias absent without bias
  input         [B, H, W, C];  grad_output: the upstream gradient, layout of output; loss = sum(output * grad_output)
  output        [B, OH, OW, O or C] ([B, C] for the global pool)
  grad.input, grad.weight, grad.bias   PyTorch's gradients, in LSTMKit's layouts (input channels-last)
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import HERE, save_safetensors  # noqa: E402


def keras_pad(size, k, s, d, same):
    """(output, before, after) along one axis, as Keras/TensorFlow."""
    eff = (k - 1) * d + 1
    if not same:
        return (size - eff) // s + 1, 0, 0
    out = math.ceil(size / s)
    total = max((out - 1) * s + eff - size, 0)
    return out, total // 2, total - total // 2


def conv(name, B, H, W, C, O, KH, KW, SH=1, SW=1, DH=1, DW=1, same=False, act=0, bias=True, seed=0):
    torch.manual_seed(seed)
    layer = torch.nn.Conv2d(C, O, (KH, KW), stride=(SH, SW), dilation=(DH, DW), bias=bias)
    x = torch.randn(B, H, W, C, requires_grad=True)
    _, pt, pb = keras_pad(H, KH, SH, DH, same)
    _, pl, pr = keras_pad(W, KW, SW, DW, same)
    z = layer(F.pad(x.permute(0, 3, 1, 2), (pl, pr, pt, pb)))
    y = [lambda v: v, torch.relu, torch.tanh, torch.sigmoid][act](z).permute(0, 2, 3, 1)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    t = {"config": np.array([H, W, C, O, KH, KW, SH, SW, DH, DW, int(same), act, int(bias), B], dtype=np.float64),
         "weight": layer.weight.detach().numpy(), "input": x.detach().numpy(), "grad_output": g.numpy(),
         "output": y.detach().numpy(), "grad.input": x.grad.numpy(), "grad.weight": layer.weight.grad.numpy()}
    if bias:
        t["bias"] = layer.bias.detach().numpy()
        t["grad.bias"] = layer.bias.grad.numpy()
    save_safetensors(os.path.join(HERE, f"conv_{name}.safetensors"), t)


def pool(name, kind, B, H, W, C, PH, PW, SH, SW, same=False, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(B, H, W, C, requires_grad=True)
    xc = x.permute(0, 3, 1, 2)
    _, pt, pb = keras_pad(H, PH, SH, 1, same)
    _, pl, pr = keras_pad(W, PW, SW, 1, same)
    if kind == 0:
        y = F.max_pool2d(F.pad(xc, (pl, pr, pt, pb), value=-math.inf), (PH, PW), (SH, SW))
    elif kind == 1:
        pad = (pl, pr, pt, pb)
        y = F.avg_pool2d(F.pad(xc, pad), (PH, PW), (SH, SW)) / F.avg_pool2d(F.pad(torch.ones_like(xc), pad), (PH, PW), (SH, SW))
    else:
        y = xc.mean(dim=(2, 3), keepdim=True)
    y = y.permute(0, 2, 3, 1)
    if kind == 2:
        y = y.reshape(B, C)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    t = {"config": np.array([H, W, C, PH, PW, SH, SW, int(same), kind, B], dtype=np.float64),
         "input": x.detach().numpy(), "grad_output": g.numpy(), "output": y.detach().contiguous().numpy(),
         "grad.input": x.grad.numpy()}
    save_safetensors(os.path.join(HERE, f"pool_{name}.safetensors"), t)


if __name__ == "__main__":
    conv("basic_relu", B=2, H=7, W=6, C=3, O=4, KH=3, KW=3, act=1, seed=1)
    conv("stride2", B=2, H=9, W=8, C=2, O=5, KH=3, KW=3, SH=2, SW=2, seed=2)
    conv("same_odd_stride2", B=3, H=7, W=5, C=3, O=4, KH=4, KW=3, SH=2, SW=2, same=True, act=2, seed=3)
    conv("same_stride1_even_kernel", B=2, H=5, W=6, C=2, O=3, KH=2, KW=4, same=True, act=3, seed=4)
    conv("dilation", B=2, H=9, W=10, C=2, O=3, KH=3, KW=2, DH=2, DW=3, act=1, seed=5)
    conv("dilation_same", B=2, H=7, W=8, C=3, O=2, KH=3, KW=3, DH=2, DW=2, same=True, seed=6)
    conv("pointwise_no_bias", B=2, H=5, W=3, C=4, O=6, KH=1, KW=1, bias=False, seed=7)
    conv("pointwise_stride2", B=2, H=5, W=4, C=3, O=2, KH=1, KW=1, SH=2, SW=2, seed=8)
    pool("max_2x2", 0, B=2, H=6, W=7, C=3, PH=2, PW=2, SH=2, SW=2, seed=11)
    pool("max_3x3_s2_same_odd", 0, B=2, H=7, W=5, C=2, PH=3, PW=3, SH=2, SW=2, same=True, seed=12)
    pool("max_overlap_s1", 0, B=1, H=5, W=6, C=2, PH=3, PW=2, SH=1, SW=1, seed=13)
    pool("avg_2x2", 1, B=2, H=6, W=7, C=3, PH=2, PW=2, SH=2, SW=2, seed=14)
    pool("avg_3x3_s2_same_odd", 1, B=2, H=7, W=5, C=2, PH=3, PW=3, SH=2, SW=2, same=True, seed=15)
    pool("global_avg", 2, B=3, H=5, W=4, C=3, PH=5, PW=4, SH=1, SW=1, seed=16)
    print("wrote conv_*.safetensors and pool_*.safetensors to", HERE)
