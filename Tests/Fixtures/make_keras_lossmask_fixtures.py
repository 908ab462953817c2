#!/usr/bin/env python3
"""Regenerates keras_lossmask.safetensors, the Keras 3 golden of KerasLossMaskTests.swift: the loss (and accuracy)
of a masked sequence output, which Keras weights by the mask and averages over the valid steps only:
loss = sum_bt(l_bt * m_bt) / sum_bt(m_bt).

    pip install keras tensorflow-cpu numpy
    KERAS_BACKEND=tensorflow python3 Tests/Fixtures/make_keras_lossmask_fixtures.py

Model: Embedding(7, 4, mask_zero=True) -> LSTM(5, return_sequences=True) -> Dense(3, softmax), sparse categorical
cross-entropy, metrics ["accuracy"], keras.utils.set_random_seed(3). Writes (Float64):
  embedding [7, 4], kernel [4, 20], recurrent_kernel [5, 20], bias [20], dense.kernel [5, 3], dense.bias [3]
                                 Keras's initial weights (Keras layouts; LSTM gates i, f, c, o)
  <pad>.x [3, 6] (token ids, 0 = padding), <pad>.y [3, 6] (class ids, also at the padded steps) for pad in right, left
  <pad>.evaluate [2]            model.evaluate(x, y): loss, accuracy (initial weights)
  <pad>.unmasked_loss [1]       the plain mean of the per-step losses over all B*T steps (what the loss was before)
  <pad>.train [2]               train_on_batch(x, y) with SGD(1.0) from the initial weights: loss, accuracy (computed
                                before the update)
  <pad>.grad.<weight>           the gradient of that step's loss: the initial weights minus the weights after it
                                (SGD with learning rate 1, no momentum: w1 = w0 - g). Gradients rather than weights after
                                several steps: LSTMKit's LSTM has PyTorch's two biases (bias_ih, bias_hh), each getting
                                Keras's bias gradient, so SGD trajectories part after the first step.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras

from make_keras_fixtures import save_safetensors  # the same F64 safetensors writer

HERE = os.path.dirname(os.path.abspath(__file__))
V, E, H, C, T = 7, 4, 5, 3, 6


def model():
    m = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, E, mask_zero=True),
                          keras.layers.LSTM(H, return_sequences=True), keras.layers.Dense(C, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def weights(m):
    emb, (k, r, b), (dk, db) = m.layers[0].get_weights()[0], m.layers[1].get_weights(), m.layers[2].get_weights()
    return {"embedding": emb, "kernel": k, "recurrent_kernel": r, "bias": b, "dense.kernel": dk, "dense.bias": db}


def main():
    keras.utils.set_random_seed(3)
    m = model()
    initial = m.get_weights()
    out = dict(weights(m))
    batches = {
        "right": np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 1, 2, 0], [3, 4, 5, 6, 1, 2]], dtype="int32"),
        "left": np.array([[0, 0, 0, 1, 2, 3], [0, 4, 5, 6, 1, 2], [3, 4, 5, 6, 1, 2]], dtype="int32"),
    }
    y = np.array([[0, 1, 2, 1, 1, 1], [2, 1, 0, 0, 1, 2], [1, 1, 2, 0, 2, 1]], dtype="int32")
    for pad, x in batches.items():
        m.set_weights(initial)
        m.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        out[pad + ".x"], out[pad + ".y"] = x, y
        r = m.evaluate(x, y, verbose=0, return_dict=True)
        out[pad + ".evaluate"] = [r["loss"], r["accuracy"]]
        p = m.predict(x, verbose=0).astype(np.float64)
        steps = -np.log(np.take_along_axis(p, y[..., None], -1)[..., 0])
        mask = x != 0
        # The formula this fixture pins: Keras's masked loss is the mean over the valid steps.
        assert abs((steps * mask).sum() / mask.sum() - r["loss"]) < 1e-5, (pad, r["loss"])
        out[pad + ".unmasked_loss"] = [steps.mean()]
        w0 = weights(m)
        t = m.train_on_batch(x, y, return_dict=True)
        out[pad + ".train"] = [t["loss"], t["accuracy"]]
        for name, w in weights(m).items():
            out[pad + ".grad." + name] = w0[name].astype(np.float64) - w.astype(np.float64)
    save_safetensors(os.path.join(HERE, "keras_lossmask.safetensors"), out, producer="Tests/Fixtures/make_keras_lossmask_fixtures.py")
    print("keras", keras.__version__, "backend", keras.backend.backend())


if __name__ == "__main__":
    main()
