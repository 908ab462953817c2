#!/usr/bin/env python3
"""Keras tutorial: multi-step regression (LSTM 64 -> Dense 5) on windows of a noisy series.
Port: Regression.swift. Run: KERAS_BACKEND=tensorflow python3 regression.py [seed]"""
import os, sys
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
from keras import layers

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
keras.utils.set_random_seed(seed)
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
x_train, y_train = np.load(f"{data}/regression_train_x.npy"), np.load(f"{data}/regression_train_y.npy")
x_test, y_test = np.load(f"{data}/regression_test_x.npy"), np.load(f"{data}/regression_test_y.npy")

model = keras.Sequential([
    keras.Input(shape=(20, 1)),
    layers.LSTM(64),
    layers.Dense(5),
])
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)
mse = model.evaluate(x_test, y_test, verbose=0)
print(f"test_mse {mse:.4f}")
