#!/usr/bin/env python3
"""Regenerates the Keras 3 golden fixtures of LSTMKit's Keras-parity tests (KerasGoldenTests.swift).

    pip install keras tensorflow-cpu numpy
    KERAS_BACKEND=tensorflow python3 Tests/Fixtures/make_keras_fixtures.py

Writes (Float64 unless noted):
  keras_initializers.safetensors
    init.<name>.<shape>          [4]: mean, std, min, max of one draw of keras.initializers.get(name) on that
                                 Keras shape (e.g. init.glorot_uniform.64x256), seed 1
    init.orthogonal.<shape>.gram_error   [1]: max |W W^T - I| (rows) or |W^T W - I| (columns) of that draw
    layer.<layer>.<weight>       [4]: the same statistics of a default-initialised Keras layer's weight
                                 (layer.lstm.kernel [64, 256], .recurrent_kernel [64, 256], .bias [256];
                                 layer.gru.kernel [32, 96], ...; layer.dense.kernel [64, 5]; layer.embedding [1000, 64])
  keras_masking.safetensors
    Masking(0.0) -> LSTM(4, return_sequences=rs) on x [3, 5, 2] whose padded steps are all 0.0, for
    pad in (left, right) and rs in (0, 1):
    kernel [2, 16], recurrent_kernel [4, 16], bias [16]    the weights (Keras layout, gates i, f, c, o)
    <pad>.x [3, 5, 2]; <pad>.rs<rs>.output; <pad>.rs<rs>.grad_output (the loss is sum(output * grad_output); 0 at the
    steps after a sequence's last step, where Keras repeats the last output and LSTMKit gives 0);
    <pad>.rs<rs>.grad.x, .grad.kernel, .grad.recurrent_kernel, .grad.bias (tf.GradientTape)
  keras_activations.safetensors
    x [41]; <act>.y, <act>.grad (d sum(y * g) / dx with g = grad_weights) for elu, selu, softplus, gelu; grad_weights [41]
"""
import json
import os
import struct

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))


def save_safetensors(path, tensors, producer="Tests/Fixtures/make_keras_fixtures.py"):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(np.asarray(array, dtype=np.float64))
        data = array.astype("<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": producer, "keras": keras.__version__,
                              "backend": keras.backend.backend()}
    raw = json.dumps(header, sort_keys=True).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def stats(w):
    w = np.asarray(w, dtype=np.float64)
    return [w.mean(), w.std(), w.min(), w.max()]


def initializers():
    out = {}
    names = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
             "orthogonal", "zeros", "ones", "random_uniform", "random_normal", "truncated_normal"]
    shapes = [(64, 5), (64, 256), (256, 64), (1000, 64)]
    for name in names:
        for shape in shapes:
            init = keras.initializers.get({"class_name": name, "config": {"seed": 1}} if name not in ("zeros", "ones")
                                          else name)
            w = np.asarray(init(shape), dtype=np.float64)
            key = f"init.{name}.{shape[0]}x{shape[1]}"
            out[key] = stats(w)
            if name == "orthogonal":
                g = w @ w.T if shape[0] <= shape[1] else w.T @ w
                out[key + ".gram_error"] = [np.abs(g - np.eye(g.shape[0])).max()]
    keras.utils.set_random_seed(1)
    lstm = keras.layers.LSTM(64)
    lstm.build((None, 10, 64))
    k, r, b = lstm.get_weights()
    out["layer.lstm.kernel"], out["layer.lstm.recurrent_kernel"] = stats(k), stats(r)
    out["layer.lstm.bias"] = stats(b)
    out["layer.lstm.bias_forget"] = stats(b[64:128])
    gru = keras.layers.GRU(32)
    gru.build((None, 10, 32))
    k, r, b = gru.get_weights()
    out["layer.gru.kernel"], out["layer.gru.recurrent_kernel"], out["layer.gru.bias"] = stats(k), stats(r), stats(b)
    dense = keras.layers.Dense(5)
    dense.build((None, 64))
    k, b = dense.get_weights()
    out["layer.dense.kernel"], out["layer.dense.bias"] = stats(k), stats(b)
    emb = keras.layers.Embedding(1000, 64)
    emb.build((None, 10))
    out["layer.embedding.embeddings"] = stats(emb.get_weights()[0])
    save_safetensors(os.path.join(HERE, "keras_initializers.safetensors"), out)


def masking():
    rng = np.random.default_rng(7)
    B, T, F, H = 3, 5, 2, 4
    kernel = rng.uniform(-0.5, 0.5, (F, 4 * H))
    recurrent = rng.uniform(-0.5, 0.5, (H, 4 * H))
    bias = rng.uniform(-0.5, 0.5, (4 * H,))
    out = {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}
    lengths = [5, 3, 2]
    for pad in ("left", "right"):
        x = np.zeros((B, T, F))
        for b, n in enumerate(lengths):
            steps = range(T - n, T) if pad == "left" else range(n)
            for t in steps:
                x[b, t] = rng.uniform(0.1, 1.0, F) * rng.choice([-1, 1], F)
        out[f"{pad}.x"] = x
        for rs in (0, 1):
            inp = keras.Input((T, F))
            masked = keras.layers.Masking(0.0)(inp)
            layer = keras.layers.LSTM(H, return_sequences=bool(rs))
            y = layer(masked)
            model = keras.Model(inp, y)
            layer.set_weights([kernel.astype("float32"), recurrent.astype("float32"), bias.astype("float32")])
            xt = tf.constant(x, dtype=tf.float32)
            shape = (B, T, H) if rs else (B, H)
            g = rng.uniform(-1, 1, shape)
            if rs and pad == "right":
                # After a sequence's last step Keras repeats its last output (LSTMKit gives 0, as PyTorch): no
                # gradient enters there, so the gradients do not depend on that convention.
                for b, n in enumerate(lengths):
                    g[b, n:] = 0
            with tf.GradientTape() as tape:
                tape.watch(xt)
                yv = model(xt)
                loss = tf.reduce_sum(yv * tf.constant(g, dtype=tf.float32))
            grads = tape.gradient(loss, [xt] + layer.trainable_weights)
            p = f"{pad}.rs{rs}"
            out[p + ".output"], out[p + ".grad_output"] = yv.numpy(), g
            out[p + ".grad.x"] = grads[0].numpy()
            for w, gw in zip(layer.trainable_weights, grads[1:]):
                name = w.path.split("/")[-1]
                out[p + ".grad." + name] = gw.numpy()
    save_safetensors(os.path.join(HERE, "keras_masking.safetensors"), out)


def activations():
    x = np.linspace(-4, 4, 41)
    g = np.random.default_rng(3).uniform(-1, 1, 41)
    out = {"x": x, "grad_weights": g}
    for name in ("elu", "selu", "softplus", "gelu"):
        xt = tf.constant(x, dtype=tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = keras.activations.get(name)(xt)
            loss = tf.reduce_sum(y * g)
        out[name + ".y"], out[name + ".grad"] = y.numpy(), tape.gradient(loss, xt).numpy()
    save_safetensors(os.path.join(HERE, "keras_activations.safetensors"), out)


if __name__ == "__main__":
    initializers()
    masking()
    activations()
    print("keras", keras.__version__, "backend", keras.backend.backend())
