#!/usr/bin/env python3
"""Keras tutorial: an LSTM fitted to random labels (LSTM 10 -> Dense tanh -> softmax); the test accuracy is chance.
Port: RandomLabels.swift. Run: KERAS_BACKEND=tensorflow python3 random_labels.py [seed]"""
import os, sys
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
from keras import layers

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
keras.utils.set_random_seed(seed)
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
x_train, y_train = np.load(f"{data}/random_train_x.npy"), np.load(f"{data}/random_train_y.npy")
x_test, y_test = np.load(f"{data}/random_test_x.npy"), np.load(f"{data}/random_test_y.npy")

model = keras.Sequential([
    keras.Input(shape=(10, 8)),
    layers.LSTM(10),
    layers.Dense(10, activation="tanh"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test_accuracy {accuracy:.4f}")
