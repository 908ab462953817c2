"""Keras 3 golden fixtures for the recurrent layers' `activation` and `recurrent_activation`.

    python3 Tests/Fixtures/make_keras_activation_fixtures.py   # writes Tests/Fixtures/keras_{lstm,gru}_<act>_<ract>.safetensors

Runs keras.layers.LSTM / GRU (Keras 3, TensorFlow backend, float32, reset_after=True for the GRU) on one batch with
return_sequences and return_state, and takes the gradients of sum(y * grad_output) with tf.GradientTape w.r.t. the
input and the weights. Everything is stored in PyTorch's layout, as LSTMKit's parameters are named:
  LSTM: Keras kernel [I, 4H] (gates i, f, c, o) -> weight_ih_l0 = kernel^T [4H, I] (PyTorch's i, f, g, o: the same
        order); recurrent_kernel [H, 4H] -> weight_hh_l0 [4H, H]; bias [4H] -> bias_ih_l0, and bias_hh_l0 = 0 (the two
        enter the pre-activation as one sum, so both get Keras's bias gradient).
  GRU:  Keras kernel [I, 3H] (gates z, r, h) -> weight_ih_l0 [3H, I] in PyTorch's order r, z, n; recurrent_kernel
        likewise; bias [2, 3H] (input, recurrent) -> bias_ih_l0, bias_hh_l0 (reset_after=True is PyTorch's formula
        n = act(W_in x + b_in + r * (W_hn h + b_hn))).
Tensors: config [I, H, B, T], input [B, T, I], grad_output [B, T, H], output [B, T, H], h_n [1, B, H] (and c_n),
the parameters, and grad.<name> for the input and every parameter.
"""
import json
import os
import struct

import numpy as np
import keras
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
I, H, B, T = 4, 6, 3, 5


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": "Tests/Fixtures/make_keras_activation_fixtures.py", "keras": keras.__version__,
                              "tensorflow": tf.__version__}
    raw = json.dumps(header, sort_keys=True).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    os.replace(path + ".tmp", path)


def gru_to_torch(m):
    """Keras's z, r, h blocks (last axis) -> PyTorch's r, z, n rows."""
    z, r, h = np.split(m, 3, axis=-1)
    return np.concatenate([r, z, h], axis=-1).T


def make(kind, activation, recurrent_activation, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (B, T, I)).astype(np.float32)
    gy = rng.uniform(-1, 1, (B, T, H)).astype(np.float32)
    cls = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
    layer = cls(H, activation=activation, recurrent_activation=recurrent_activation, return_sequences=True,
                return_state=True)
    layer.build((B, T, I))
    # Weights U(-0.5, 0.5): relu keeps the states bounded over 5 steps, hard_sigmoid's linear part is exercised.
    for w in layer.weights:
        w.assign(rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        outs = layer(xt)
        loss = tf.reduce_sum(outs[0] * gy)
    kernel, recurrent, bias = layer.weights
    grads = tape.gradient(loss, [xt, kernel, recurrent, bias])
    t = {"config": np.array([I, H, B, T], np.float32), "input": x, "grad_output": gy,
         "output": outs[0].numpy(), "h_n": outs[1].numpy()[None]}
    if kind == "lstm":
        t["c_n"] = outs[2].numpy()[None]
        params = {"weight_ih_l0": kernel.numpy().T, "weight_hh_l0": recurrent.numpy().T,
                  "bias_ih_l0": bias.numpy(), "bias_hh_l0": np.zeros(4 * H, np.float32)}
        pgrads = {"weight_ih_l0": grads[1].numpy().T, "weight_hh_l0": grads[2].numpy().T,
                  "bias_ih_l0": grads[3].numpy(), "bias_hh_l0": grads[3].numpy()}
    else:
        params = {"weight_ih_l0": gru_to_torch(kernel.numpy()), "weight_hh_l0": gru_to_torch(recurrent.numpy()),
                  "bias_ih_l0": gru_to_torch(bias.numpy()[0]), "bias_hh_l0": gru_to_torch(bias.numpy()[1])}
        pgrads = {"weight_ih_l0": gru_to_torch(grads[1].numpy()), "weight_hh_l0": gru_to_torch(grads[2].numpy()),
                  "bias_ih_l0": gru_to_torch(grads[3].numpy()[0]), "bias_hh_l0": gru_to_torch(grads[3].numpy()[1])}
    t.update(params)
    t["grad.input"] = grads[0].numpy()
    t.update({"grad." + k: v for k, v in pgrads.items()})
    name = f"keras_{kind}_{activation}_{recurrent_activation}.safetensors"
    save_safetensors(os.path.join(HERE, name), t)
    print(f"{name}: {len(t)} tensors, |output| max {np.abs(t['output']).max():.3f}")


if __name__ == "__main__":
    for kind, seed in [("lstm", 1), ("gru", 2)]:
        make(kind, "relu", "hard_sigmoid", seed)
        make(kind, "linear", "sigmoid", seed + 10)
        make(kind, "sigmoid", "relu", seed + 20)
