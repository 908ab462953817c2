#!/usr/bin/env python3
"""Writes the data of the three Keras tutorials and their LSTMKit ports (no internet here, so synthetic):

    python3 Examples/Tutorials/make_data.py      # -> Examples/Tutorials/data/*.npy (float32)

- text_{train,test}_{x,y}.npy: a 4-class "text" task. Token ids in 1..999 (0 = padding), lengths 8..40,
  right-padded to T = 40 (as the tutorial's `pad_sequences(..., padding="post")`). Tokens 4 + 10c ... 13 + 10c are
  the keywords of class c; a sequence of class c holds 2 of its keywords and 1 keyword of another class among
  random filler tokens (44..999); 5% of the labels are flipped. 2000 train, 500 test.
- regression_{train,test}_{x,y}.npy: windows of 20 steps of a noisy sum of two sines with random phases,
  x [N, 20, 1], y [N, 5] = the next 5 values. 2000 train, 500 test.
- random_{train,test}_{x,y}.npy: x [N, 10, 8] uniform noise, y [N] random class ids in 0..9 (nothing to learn:
  the test accuracy is chance, 0.1). 1000 train, 500 test.
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def text(rng, n, T=40):
    x = np.zeros((n, T), dtype=np.float32)
    y = rng.integers(0, 4, n)
    for i in range(n):
        length = rng.integers(8, T + 1)
        seq = rng.integers(44, 1000, length)
        other = (y[i] + rng.integers(1, 4)) % 4
        words = [4 + 10 * y[i] + rng.integers(0, 10) for _ in range(2)] + [4 + 10 * other + rng.integers(0, 10)]
        for w, p in zip(words, rng.choice(length, 3, replace=False)):
            seq[p] = w
        x[i, :length] = seq
    flip = rng.random(n) < 0.05
    y[flip] = rng.integers(0, 4, flip.sum())
    return x, y.astype(np.float32)


def regression(rng, n, T=20, H=5):
    t = np.arange(T + H)
    x = np.zeros((n, T, 1), dtype=np.float32)
    y = np.zeros((n, H), dtype=np.float32)
    for i in range(n):
        s = (np.sin(0.3 * t + rng.uniform(0, 2 * np.pi)) + 0.5 * np.sin(0.71 * t + rng.uniform(0, 2 * np.pi))
             + rng.normal(0, 0.3, T + H))
        x[i, :, 0], y[i] = s[:T], s[T:]
    return x, y


def random_labels(rng, n):
    return rng.uniform(-1, 1, (n, 10, 8)).astype(np.float32), rng.integers(0, 10, n).astype(np.float32)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    for name, make, sizes in [("text", text, (2000, 500)), ("regression", regression, (2000, 500)),
                              ("random", random_labels, (1000, 500))]:
        for split, n in zip(("train", "test"), sizes):
            x, y = make(rng, n)
            np.save(os.path.join(OUT, f"{name}_{split}_x.npy"), x.astype(np.float32))
            np.save(os.path.join(OUT, f"{name}_{split}_y.npy"), y.astype(np.float32))
    print("wrote", sorted(os.listdir(OUT)))
