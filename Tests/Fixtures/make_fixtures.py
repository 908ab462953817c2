#!/usr/bin/env python3
"""Regenerates the PyTorch golden fixtures for LSTMKit's tests.

    pip install torch==2.13.0 numpy
    python3 Tests/Fixtures/make_fixtures.py        # writes Tests/Fixtures/lstm_*.safetensors

Each file holds, for one nn.LSTM configuration (Float32, CPU, deterministic seed):
  config                  [7] F64: input_size, hidden_size, num_layers, bias, batch_first, bidirectional, has_initial_state
  <param name>            the state_dict, PyTorch names and shapes
  input, lengths          lengths: F64 [B], the valid length of each sequence (padding on the right)
  h0, c0                  only when has_initial_state
  grad_output, grad_h_n, grad_c_n   the upstream gradients; the loss is
                          sum(output * grad_output) + sum(h_n * grad_h_n) + sum(c_n * grad_c_n)
  output, h_n, c_n        PyTorch's forward results (packed-sequence semantics when lengths < T)
  grad.input, grad.h0, grad.c0, grad.<param name>   PyTorch's gradients
The safetensors writer is inlined so the script needs only torch and numpy.
"""
import json
import os
import struct

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}[array.dtype]
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": "Tests/Fixtures/make_fixtures.py", "torch": torch.__version__}
    raw = json.dumps(header, sort_keys=True).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    os.replace(path + ".tmp", path)


def make(name, I, H, L, B, T, bias=True, batch_first=False, bidirectional=False, lengths=None, initial_state=False, seed=0,
         kind="lstm", proj_size=0):
    """kind "lstm" (optionally with proj_size) or "gru". A GRU has no c0/c_n; for a projection h0/h_n have P columns."""
    torch.manual_seed(seed)
    D = 2 if bidirectional else 1
    gru = kind == "gru"
    if gru:
        lstm = torch.nn.GRU(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    else:
        lstm = torch.nn.LSTM(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidirectional, proj_size=proj_size)
    P = proj_size or H
    lengths = lengths or [T] * B
    x = torch.randn(*((B, T, I) if batch_first else (T, B, I)), requires_grad=True)
    with torch.no_grad():  # zero the padding so both sides see the same input
        for b, n in enumerate(lengths):
            (x[b, n:] if batch_first else x[n:, b]).zero_()
    h0 = torch.randn(L * D, B, P, requires_grad=True) if initial_state else None
    c0 = torch.randn(L * D, B, H, requires_grad=True) if initial_state and not gru else None
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    if gru:
        out_packed, hn = lstm(packed, h0) if initial_state else lstm(packed)
        cn = torch.zeros(0)
    else:
        out_packed, (hn, cn) = lstm(packed, (h0, c0)) if initial_state else lstm(packed)
    out, _ = pad_packed_sequence(out_packed, batch_first=batch_first, total_length=T)
    g_out, g_hn, g_cn = torch.randn_like(out), torch.randn_like(hn), torch.randn_like(cn)
    loss = (out * g_out).sum() + (hn * g_hn).sum() + (cn * g_cn).sum()
    loss.backward()

    t = {"config": np.array([I, H, L, bias, batch_first, bidirectional, initial_state, proj_size], dtype=np.float64)}
    for pname, p in lstm.state_dict().items():
        t[pname] = p.numpy()
    t["input"] = x.detach().numpy()
    t["lengths"] = np.array(lengths, dtype=np.float64)
    if initial_state:
        t["h0"] = h0.detach().numpy()
        if not gru:
            t["c0"] = c0.detach().numpy()
    t["grad_output"], t["grad_h_n"] = g_out.numpy(), g_hn.numpy()
    t["output"], t["h_n"] = out.detach().numpy(), hn.detach().numpy()
    if not gru:
        t["grad_c_n"], t["c_n"] = g_cn.numpy(), cn.detach().numpy()
    t["grad.input"] = x.grad.numpy()
    if initial_state:
        t["grad.h0"] = h0.grad.numpy()
        if not gru:
            t["grad.c0"] = c0.grad.numpy()
    for pname, p in lstm.named_parameters():
        t["grad." + pname] = p.grad.numpy()
    prefix = "gru" if gru else "lstm"
    save_safetensors(os.path.join(HERE, f"{prefix}_{name}.safetensors"), t)
    print(f"{prefix}_{name}.safetensors: {len(t)} tensors")


def make_training(name, optimizer, steps=20, clip=None, seed=7):
    """LSTM(3, 8, batch_first) -> Linear(8, 2) on the last step, MSE, trained `steps` times on one batch.

    Writes: the initial state dict ("0.weight_ih_l0", ..., "1.weight", "1.bias": nn.Sequential-style names),
    x [6, 5, 3], y [6, 2], losses [steps] (the loss before each update) and "final.<name>" after the last update.
    """
    torch.manual_seed(seed)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("0", torch.nn.LSTM(3, 8, batch_first=True))
            self.add_module("1", torch.nn.Linear(8, 2))

        def forward(self, x):
            out, _ = getattr(self, "0")(x)
            return getattr(self, "1")(out[:, -1, :])

    model = Model()
    x, y = torch.randn(6, 5, 3), torch.randn(6, 2)
    t = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    t["x"], t["y"] = x.numpy(), y.numpy()
    opt = optimizer(model.parameters())
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(loss.item())
    t["losses"] = np.array(losses, dtype=np.float64)
    for k, v in model.state_dict().items():
        t["final." + k] = v.detach().numpy()
    save_safetensors(os.path.join(HERE, f"train_{name}.safetensors"), t)
    print(f"train_{name}.safetensors: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


def make_optimizer_steps(seed=21, n=4099, steps=3):
    """One parameter vector updated `steps` times by each optimizer from PyTorch's given gradients.

    Writes optim_steps.safetensors: p0 [n] (small, so p's own rounding stays below the updates), grad.<k> [n] for
    k < steps, and <optimizer>.p.<k> [n], the parameters after step k, for adam, adamw and rmsprop.
    """
    torch.manual_seed(seed)
    p0 = torch.randn(n) * 1e-3
    grads = [torch.randn(n) * (10.0 ** -k) for k in range(steps)]
    t = {"p0": p0.numpy().copy()}
    for k, g in enumerate(grads):
        t[f"grad.{k}"] = g.numpy().copy()
    makers = {"adam": lambda q: torch.optim.Adam(q, lr=0.01),
              "adamw": lambda q: torch.optim.AdamW(q, lr=0.01, weight_decay=0.1),
              "rmsprop": lambda q: torch.optim.RMSprop(q, lr=0.01)}
    for name, make_opt in makers.items():
        p = torch.nn.Parameter(p0.clone())
        opt = make_opt([p])
        for k, g in enumerate(grads):
            p.grad = g.clone()
            opt.step()
            t[f"{name}.p.{k}"] = p.detach().numpy().copy()
    save_safetensors(os.path.join(HERE, "optim_steps.safetensors"), t)
    print(f"optim_steps.safetensors: {len(t)} tensors")


if __name__ == "__main__":
    torch.use_deterministic_algorithms(True)
    make("one_layer", I=5, H=7, L=1, B=3, T=6, initial_state=True, seed=1)
    make("two_layers", I=4, H=6, L=2, B=2, T=5, seed=2)
    make("bidirectional", I=3, H=5, L=1, B=3, T=4, batch_first=True, bidirectional=True, initial_state=True, seed=3)
    make("variable_lengths", I=4, H=6, L=2, B=4, T=7, batch_first=True, bidirectional=True,
         lengths=[7, 5, 1, 3], initial_state=True, seed=4)
    make("no_bias", I=3, H=4, L=1, B=2, T=3, bias=False, seed=5)
    make("wide", I=32, H=48, L=1, B=8, T=20, seed=6)
    make("one_layer", I=5, H=7, L=1, B=3, T=6, initial_state=True, seed=11, kind="gru")
    make("variable_lengths", I=4, H=6, L=2, B=4, T=7, batch_first=True, bidirectional=True,
         lengths=[7, 5, 1, 3], initial_state=True, seed=12, kind="gru")
    make("no_bias", I=3, H=4, L=1, B=2, T=3, bias=False, seed=13, kind="gru")
    make("projection", I=5, H=8, L=2, B=3, T=6, bidirectional=True, lengths=[6, 2, 4], initial_state=True,
         seed=14, proj_size=3)
    make_training("sgd_momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))
    make_training("adam", lambda p: torch.optim.Adam(p, lr=0.01))
    make_training("sgd_clip_norm", lambda p: torch.optim.SGD(p, lr=0.5), clip=0.05)
    make_optimizer_steps()
    make_training("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.002))
    make_training("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1))
