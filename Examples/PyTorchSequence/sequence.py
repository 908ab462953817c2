"""Next term of arithmetic sequences with nn.LSTM + nn.Linear, trained with a plain PyTorch loop.

    python3 sequence.py --seed 0                 # writes data.npz (the same data for every seed) and prints the test MSE
    swift run -c release pytorch-sequence --seed 0   # the LSTMKit port (main.swift), line for line, on the same data.npz

Data: 2000 training and 500 test sequences of --length terms a, a+d, ..., with a ~ U(-1, 1) and d ~ U(-0.1, 0.1)
(numpy, seed 1234, written to data.npz); the target is the next term. Every model setting is a default of its
library except the ones given here (hidden 32, Adam lr 0.01, 60 epochs of batches of 64).
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--epochs", type=int, default=60)
parser.add_argument("--hidden", type=int, default=32)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--length", type=int, default=10)
parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.npz"))
args = parser.parse_args()


def make(n, rng):
    a = rng.uniform(-1, 1, (n, 1))
    d = rng.uniform(-0.1, 0.1, (n, 1))
    terms = a + d * np.arange(args.length + 1)
    return terms[:, :-1, None].astype(np.float32), terms[:, -1:].astype(np.float32)


if not os.path.exists(args.data):
    rng = np.random.default_rng(1234)
    x_train, y_train = make(2000, rng)
    x_test, y_test = make(500, rng)
    np.savez(args.data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
data = np.load(args.data)
x_train, y_train = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
x_test, y_test = torch.from_numpy(data["x_test"]), torch.from_numpy(data["y_test"])
torch.manual_seed(args.seed)


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)               # [B, T, H]
        return self.fc(out[:, -1, :])       # [B, 1]


model = Net(args.hidden)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
for epoch in range(args.epochs):
    permutation = torch.randperm(len(x_train))
    for start in range(0, len(x_train), args.batch_size):
        batch = permutation[start:start + args.batch_size]
        optimizer.zero_grad()
        loss = F.mse_loss(model(x_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()
with torch.no_grad():
    test_mse = F.mse_loss(model(x_test), y_test).item()
print(f"seed {args.seed}: test MSE {test_mse:.3e}")
