#!/usr/bin/env python3
"""PyTorch nn.LSTM on the CPU (2 threads) on lstm-bench's presets, and the LSTMKit/PyTorch throughput ratios.

Times the same three things as lstm-bench, the same way (warm-up excluded; at least --min-repeats runs, more
while --budget seconds last; median, min, max), on the same time-major shapes [T, B, I]:
  forward   module.eval(), torch.no_grad(), lstm(x)
  fwdbwd    lstm(x), then y.backward(dy) with a fixed dy
  train     opt.zero_grad(); loss = mse_loss(lstm(x), target) over all outputs; loss.backward(); opt.step()
            with torch.optim.Adam(lr=1e-3), the loss not read back (as lstm-bench's training step)

    python3 Benchmarks/compare_pytorch.py --json lstm-bench.json [--markdown BENCHMARKS.md]

With --json (lstm-bench --json output) it prints, per preset and device, LSTMKit's time, PyTorch's and the
throughput ratio LSTMKit/PyTorch (= PyTorch ms / LSTMKit ms; above 1 means LSTMKit is faster). --markdown
writes the whole BENCHMARKS.md (Benchmarks/run_benchmarks.sh calls it that way).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

PRESETS = {  # name: (B, T, I, H, layers), as lstm-bench
    "S": (32, 50, 32, 128, 1),
    "M": (64, 100, 256, 256, 1),
    "L": (64, 100, 512, 512, 1),
    "D": (16, 25, 512, 512, 1),
    "M2": (64, 100, 256, 256, 2),
}
# The image-sequence preset of lstm-bench (Benchmarks/lstm-bench/ConvBench.swift): the README's Keras model,
# TimeDistributed(Conv2d 3x3 relu) + MaxPool2d 2 + Flatten, LSTM, Linear (softmax in the cross-entropy).
CONV_PRESETS = {"CL": dict(B=16, T=10, H=28, W=28, C=1, filters=32, hidden=128, classes=10)}
MODES = [("forward", "forward (inference)", 1), ("fwdbwd", "forward+backward", 3), ("train", "training step", 3)]
# Targets of issue 5 (training step, LSTMKit/PyTorch throughput).
TARGETS = {"cpu": {"S": 1.2, "M": 1.2, "L": 1.0, "D": 1.2, "M2": 1.2}, "opencl": {"M": 0.6, "L": 0.6}}


def forward_flops(B, T, I, H, layers, directions=1):
    total = 0.0
    for l in range(layers):
        in_size = I if l == 0 else directions * H
        total += 2.0 * T * B * 4 * H * (in_size + H) * directions
    return total


def time_repeats(fn, warmup, min_repeats, max_repeats, budget):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        if len(times) >= min_repeats and (elapsed >= budget or elapsed + times[-1] > 1.5 * budget):
            break
    return times


def bench_pytorch(names, modes, warmup, min_repeats, max_repeats, budget, device="cpu"):
    """device "cpu" (2 threads, the comparison of BENCHMARKS.md) or "cuda" (cuDNN fp32, TF32 off; every timed
    call ends with torch.cuda.synchronize(), as lstm-bench waits for its device)."""
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    results = {}
    for name in names:
        if name in CONV_PRESETS:
            results[name] = bench_pytorch_conv(name, modes, warmup, min_repeats, max_repeats, budget, device)
            continue
        B, T, I, H, layers = PRESETS[name]
        lstm = torch.nn.LSTM(I, H, layers).to(device)
        x = torch.randn(T, B, I, device=device)
        dy = torch.randn(T, B, H, device=device) * 0.01
        target = torch.randn(T, B, H, device=device)
        opt = torch.optim.Adam(lstm.parameters(), lr=1e-3)

        def forward():
            lstm.eval()
            with torch.no_grad():
                lstm(x)
            lstm.train()
            sync()

        def fwdbwd():
            y, _ = lstm(x)
            y.backward(dy)
            sync()

        def train():
            opt.zero_grad()
            y, _ = lstm(x)
            loss = torch.nn.functional.mse_loss(y, target)
            loss.backward()
            opt.step()
            sync()

        fns = {"forward": forward, "fwdbwd": fwdbwd, "train": train}
        flops = forward_flops(B, T, I, H, layers)
        results[name] = {}
        # The training step first: run_benchmarks.sh starts this right after lstm-bench's CPU training step.
        for mode, label, factor in reversed(MODES):
            if mode not in modes:
                continue
            ts = time_repeats(fns[mode], warmup, min_repeats, max_repeats, budget)
            med = statistics.median(ts)
            r = {"medianMs": med * 1e3, "minMs": min(ts) * 1e3, "maxMs": max(ts) * 1e3, "repeats": len(ts),
                 "sequencesPerSecond": B / med, "gflops": factor * flops / med / 1e9}
            results[name][mode] = r
            print(f"pytorch {name:3s} {label:20s} median {r['medianMs']:9.2f} ms (min {r['minMs']:9.2f}, "
                  f"max {r['maxMs']:9.2f}, n={len(ts):2d})  {r['sequencesPerSecond']:9.1f} seq/s  {r['gflops']:7.1f} GFLOP/s",
                  flush=True)
    return results


def machine_info():
    model, cores = platform.processor() or "unknown", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "CPU(s)":
                cores = int(value.strip())
    except OSError:
        pass
    return model, cores


def pocl_version():
    try:
        out = subprocess.run(["clinfo"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "Platform Version" in line:
                return line.split("Platform Version", 1)[1].strip()
    except OSError:
        pass
    return "no OpenCL platform (clinfo not found)"


def bench_pytorch_conv(name, modes, warmup, min_repeats, max_repeats, budget, device="cpu"):
    """The CL preset in PyTorch: the same model channels-first, frames folded into the batch for the CNN, as
    Keras's TimeDistributed (and LSTMKit's). Modes forward and train; the step: zero_grad, cross_entropy on the
    logits (LSTMKit fuses softmax into the loss the same way), backward, Adam(lr=1e-3); the loss not read back."""
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    p = CONV_PRESETS[name]
    B, T, Hh, Ww, C, F, U, K = p["B"], p["T"], p["H"], p["W"], p["C"], p["filters"], p["hidden"], p["classes"]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    class ConvLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(C, F, 3)
            self.lstm = torch.nn.LSTM(((Hh - 2) // 2) * ((Ww - 2) // 2) * F, U, batch_first=True)
            self.dense = torch.nn.Linear(U, K)

        def forward(self, x):  # x [B, T, C, H, W]
            b, t = x.shape[:2]
            f = torch.nn.functional.max_pool2d(torch.relu(self.conv(x.reshape(b * t, *x.shape[2:]))), 2)
            y, _ = self.lstm(f.reshape(b, t, -1))
            return self.dense(y[:, -1])

    model = ConvLSTM().to(device)
    x = torch.rand(B, T, C, Hh, Ww, device=device)
    target = (torch.arange(B, device=device) % K)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)
        model.train()
        sync()

    def train():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        sync()

    conv = 2.0 * B * T * (Hh - 2) * (Ww - 2) * F * C * 9
    lstm_in = ((Hh - 2) // 2) * ((Ww - 2) // 2) * F
    flops = conv + 2.0 * T * B * 4 * U * (lstm_in + U) + 2.0 * B * U * K
    results = {}
    for mode, label, factor in reversed(MODES):
        if mode not in modes or mode == "fwdbwd":
            continue
        ts = time_repeats({"forward": forward, "train": train}[mode], warmup, min_repeats, max_repeats, budget)
        med = statistics.median(ts)
        r = {"medianMs": med * 1e3, "minMs": min(ts) * 1e3, "maxMs": max(ts) * 1e3, "repeats": len(ts),
             "sequencesPerSecond": B / med, "gflops": factor * flops / med / 1e9}
        results[mode] = r
        print(f"pytorch {name:3s} {label:20s} median {r['medianMs']:9.2f} ms (min {r['minMs']:9.2f}, "
              f"max {r['maxMs']:9.2f}, n={len(ts):2d})  {r['sequencesPerSecond']:9.1f} seq/s  {r['gflops']:7.1f} GFLOP/s",
              flush=True)
    return results


def device_kind(result):
    return result["deviceKind"]


def aggregate(rounds):
    """One mode's results over rounds: the median of the rounds' medians, the overall min and max."""
    med = statistics.median(r["medianMs"] for r in rounds)
    out = dict(rounds[0])
    out.update({"medianMs": med, "minMs": min(r["minMs"] for r in rounds), "maxMs": max(r["maxMs"] for r in rounds),
                "repeats": sum(r["repeats"] for r in rounds), "rounds": [r["medianMs"] for r in rounds]})
    scale = rounds[0]["medianMs"] / med
    for key in ("sequencesPerSecond", "gflops", "percentOfPeak"):
        if key in out:
            out[key] = rounds[0][key] * scale
    return out


def merge_bench(results):
    """lstm-bench results of several rounds -> one result per (preset, device), modes aggregated."""
    groups = {}
    for r in results:
        groups.setdefault((r["config"]["name"], r["device"]), []).append(r)
    merged = []
    for (_, _), rs in groups.items():
        m = dict(rs[0])
        m["forwardError"] = max(r["forwardError"] for r in rs)
        m["gradientError"] = max(r["gradientError"] for r in rs)
        m["modes"] = [aggregate([next(x for x in r["modes"] if x["mode"] == mode["mode"]) for r in rs])
                      for mode in rs[0]["modes"]]
        merged.append(m)
    return merged


def merge_torch(parts):
    """PyTorch results of several rounds ({preset: {mode: result}} each) -> one, aggregated."""
    groups = {}
    for part in parts:
        for name, modes in part.items():
            for mode, r in modes.items():
                groups.setdefault(name, {}).setdefault(mode, []).append(r)
    return {name: {mode: aggregate(rs) for mode, rs in modes.items()} for name, modes in groups.items()}


def ratio_rows(bench, torch_results):
    rows = []
    for r in bench["results"]:
        name = r["config"]["name"]
        if name not in torch_results:
            continue
        for m in r["modes"]:
            t = torch_results[name].get(m["mode"])
            if t is None:
                continue
            a, b = m.get("rounds", [m["medianMs"]]), t.get("rounds", [t["medianMs"]])
            rows.append({"preset": name, "device": r["device"], "kind": device_kind(r), "mode": m["mode"],
                         "lstmkit": m, "pytorch": t, "ratio": t["medianMs"] / m["medianMs"],
                         "roundRatios": [y / x for x, y in zip(a, b)],
                         "peak": r["peakGflops"], "check": (r["forwardError"], r["gradientError"]),
                         "profile": r["profile"], "profileOf": r["profileOf"]})
    return rows


def verdict(row):
    target = TARGETS.get(row["kind"], {}).get(row["preset"]) if row["mode"] == "train" else None
    if target is None:
        return ""
    return f"{'met' if row['ratio'] >= target else 'NOT met'} (target {target}x)"


def print_ratios(rows):
    print("\nLSTMKit / PyTorch throughput (PyTorch ms / LSTMKit ms; > 1: LSTMKit faster)")
    print(f"{'preset':6s} {'device':48s} {'mode':8s} {'LSTMKit ms':>11s} {'PyTorch ms':>11s} {'ratio':>7s}  target")
    for row in rows:
        print(f"{row['preset']:6s} {row['device'][:48]:48s} {row['mode']:8s} {row['lstmkit']['medianMs']:11.2f} "
              f"{row['pytorch']['medianMs']:11.2f} {row['ratio']:7.2f}  {verdict(row)}")


def first_round(commands):
    """The commands of the first round (run_benchmarks.sh names its files ...-P-rROUND.json)."""
    firsts = [c for c in commands if "-r1.json" in c]
    return firsts or commands


def rounds(commands):
    return max(1, sum(1 for c in commands if "-r" in c and ".json" in c) // max(1, len(first_round(commands))))


def write_markdown(path, bench, torch_results, rows, args):
    model, cores = machine_info()
    # lstm-bench's own description (family, AVX-512, the CPU path's kernels) when its report has one.
    model = bench.get("machine") or model
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    import torch
    lines = [
        "# LSTMKit benchmarks",
        "",
        "Generated by `Benchmarks/run_benchmarks.sh` (do not edit by hand; run it again).",
        "",
        f"- Date: {now}",
        f"- Machine: {model}; {cores} cores",
        f"- OpenCL: {pocl_version()}",
        f"- PyTorch {torch.__version__}, CPU, `torch.set_num_threads(2)`",
        "- Commands (Benchmarks/run_benchmarks.sh runs LSTMKit and PyTorch preset by preset, one right after the "
        "other, so that both see the same machine load):",
    ] + [f"  - `{c}`" for c in first_round(bench["commands"])] + [
        f"  - and the same for each of {rounds(bench['commands'])} round(s), each followed by "
        "`python3 Benchmarks/compare_pytorch.py --preset P --budget ... --out-json ...` (PyTorch on the same preset)",
        f"  - `{args.command}` (merges all of it)",
        f"- Training step (both): {bench['results'][0]['trainingStep'] if bench['results'] else ''}; "
        "PyTorch: `opt.zero_grad(); mse_loss(lstm(x), target).backward(); opt.step()` with `Adam(lr=1e-3)`",
        "- Input gradient: x needs none in either framework (PyTorch's x has no `requires_grad`). LSTMKit's training step "
        "skips it, as `Sequential.fit` does; its forward+backward computes it (the full BPTT). PyTorch's CPU LSTM (oneDNN) "
        "computes it in both: its step took the same time with `x.requires_grad` True and False (docs/decisions/0009-no-input-gradient-parallel-optimizer.md).",
        "- FLOPs: forward 2·T·B·4H·(I+H) per layer and direction; forward+backward and the training step 3x that "
        "(nominal for LSTMKit's training step, which skips the first layer's dX gemm, 2·T·B·4H·I of the 3x).",
        "- Times: median over repeats after a warm-up run (min and max in the JSON); % of peak is against the "
        "device's own 1024³ sgemm through the same gemm primitive, measured in the same run (its fastest repeat).",
        "",
        "Peak sgemm (1024³), measured at the start of each lstm-bench run (min-max over the runs): " + ", ".join(
            f"{d}: {min(x[d] for x in bench['allPeaks'] if d in x):.1f}-{max(x[d] for x in bench['allPeaks'] if d in x):.1f} GFLOP/s"
            for d in sorted(bench["peaks"])),
        "",
        "## Training step: LSTMKit vs PyTorch",
        "",
        "Ratio = LSTMKit throughput / PyTorch throughput (= PyTorch ms / LSTMKit ms). With several rounds, each time "
        "is the median of the rounds' medians, and the ratio of each round (LSTMKit and PyTorch measured right after "
        "each other) is listed too: the spread is this machine's noise. The target column judges the ratio; the "
        "median of the rounds' own ratios is the paired figure (each LSTMKit time against the PyTorch time taken "
        "seconds after it), shown next to it.",
        "",
        "| preset (B,T,I,H,layers) | device | LSTMKit ms | PyTorch ms | ratio | ratio per round | median of the rounds' ratios | LSTMKit GFLOP/s | % of peak | target |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        if row["mode"] != "train":
            continue
        B, T, I, H, L = PRESETS[row["preset"]] if row["preset"] in PRESETS else (lambda c: (c["B"], c["T"], (c["H"] - 2) // 2 * ((c["W"] - 2) // 2) * c["filters"], c["hidden"], 1))(CONV_PRESETS[row["preset"]])
        per_round = ", ".join(f"{x:.2f}" for x in row["roundRatios"])
        lines.append(f"| {row['preset']} ({B},{T},{I},{H},{L}) | {row['device']} | {row['lstmkit']['medianMs']:.2f} | "
                     f"{row['pytorch']['medianMs']:.2f} | {row['ratio']:.2f} | {per_round} | "
                     f"{statistics.median(row['roundRatios']):.2f} | {row['lstmkit']['gflops']:.1f} | "
                     f"{row['lstmkit']['percentOfPeak']:.0f}% | {verdict(row)} |")
    lines += ["", "## All modes", "",
              "| preset | device | mode | LSTMKit ms (min-max) | PyTorch ms (min-max) | ratio | LSTMKit seq/s | LSTMKit GFLOP/s |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        a, b = row["lstmkit"], row["pytorch"]
        lines.append(f"| {row['preset']} | {row['device']} | {row['mode']} | {a['medianMs']:.2f} ({a['minMs']:.2f}-{a['maxMs']:.2f}) | "
                     f"{b['medianMs']:.2f} ({b['minMs']:.2f}-{b['maxMs']:.2f}) | {row['ratio']:.2f} | "
                     f"{a['sequencesPerSecond']:.0f} | {a['gflops']:.1f} |")
    lines += ["", "## Checks against the CPU path", "",
              "Max |difference| / max |reference| over the worst tensor (forward: output, h_n, c_n; gradients: input, "
              "h0, c0 and every parameter). OpenCL is checked against `cpu`, `cpu` against `cpu(float64)`. "
              "lstm-bench fails above 1e-3.", "",
              "| preset | device | reference | forward | gradients |", "|---|---|---|---:|---:|"]
    for r in bench["results"]:
        lines.append(f"| {r['config']['name']} | {r['device']} | {r['checkedAgainst']} | {r['forwardError']:.2e} | {r['gradientError']:.2e} |")
    lines += ["", "(With several rounds: the worst round.)"]
    lines += ["", "## Where the time goes", "",
              "Per-kernel time of one profiled step (OpenCL: profiling events; CPU: wall time per primitive), top 5, "
              "from the first round.", ""]
    for r in bench["results"]:
        total = sum(k["ms"] for k in r["profile"]) or 1
        top = ", ".join(f"{k['name']} {k['ms']:.1f} ms ({k['percent']:.0f}%, {k['launches']}x)" for k in r["profile"][:5])
        lines.append(f"- {r['config']['name']} on {r['device']} ({r['profileOf']}, {total:.1f} ms in kernels): {top}")
    lines += ["", "The tuning decisions (variants tried, numbers, winners and losers) are in `docs/decisions/`.", ""]
    lines += inference_sections(args, bench, torch_results)
    # Sections measured by hand (MPI, the GPU machine) live in Benchmarks/by-hand.md and are appended as they are,
    # so that regenerating this file keeps them.
    by_hand = os.path.join(os.path.dirname(os.path.abspath(__file__)), "by-hand.md")
    if os.path.exists(by_hand):
        with open(by_hand) as f:
            lines += ["", f.read().rstrip("\n"), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {path}")


# --- Inference path and streaming (issue 18) -------------------------------------------------------------------
STREAM_VOCAB, STREAM_EMBED, STREAM_HIDDEN = 84, 32, 256


def pct(values, q):
    """The q-quantile (0..1) of values, nearest rank (as lstm-bench --stream)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(-(-len(s) * q // 1)) - 1))]


def bench_onnxruntime_forward(names, warmup, min_repeats, max_repeats, budget):
    """onnxruntime's LSTM op (2 intra-op threads) on the presets' forward: one LSTM node per layer, X [T, B, I].
    Returns {preset: {"forward_ort": result}} in bench_pytorch's format."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    results = {}
    rng = np.random.default_rng(0)
    for name in names:
        B, T, I, H, layers = PRESETS[name]
        k = 1 / H ** 0.5
        nodes, inits, x_name = [], [], "X"
        for l in range(layers):
            n_in = I if l == 0 else H
            for w, shape in ((f"W{l}", (1, 4 * H, n_in)), (f"R{l}", (1, 4 * H, H)), (f"B{l}", (1, 8 * H))):
                inits.append(numpy_helper.from_array(rng.uniform(-k, k, shape).astype(np.float32), w))
            nodes.append(helper.make_node("LSTM", [x_name, f"W{l}", f"R{l}", f"B{l}"], [f"Y{l}"], hidden_size=H))
            if l < layers - 1:  # Y [T, 1, B, H] -> [T, B, H]
                inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), f"axes{l}"))
                nodes.append(helper.make_node("Squeeze", [f"Y{l}", f"axes{l}"], [f"X{l + 1}"]))
                x_name = f"X{l + 1}"
        graph = helper.make_graph(nodes, "lstm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])],
                                  [helper.make_tensor_value_info(f"Y{layers - 1}", TensorProto.FLOAT, None)], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        x = rng.standard_normal((T, B, I)).astype(np.float32)
        ts = time_repeats(lambda: sess.run(None, {"X": x}), warmup, min_repeats, max_repeats, budget)
        med = statistics.median(ts)
        r = {"medianMs": med * 1e3, "minMs": min(ts) * 1e3, "maxMs": max(ts) * 1e3, "repeats": len(ts),
             "sequencesPerSecond": B / med, "gflops": forward_flops(B, T, I, H, layers) / med / 1e9}
        results[name] = {"forward_ort": r}
        print(f"onnxruntime {name:3s} forward (LSTM op)   median {r['medianMs']:9.2f} ms (min {r['minMs']:9.2f}, "
              f"max {r['maxMs']:9.2f}, n={len(ts):2d})", flush=True)
    return results


def bench_stream(batches, steps, warmup):
    """Per-step latency of Embedding(84, 32) -> LSTM(256) -> Linear(84) + softmax, the state carried:
    PyTorch eager (nn modules called per step under torch.inference_mode, 2 threads) and onnxruntime (a one-step
    graph: Gather, LSTM with initial_h/initial_c, MatMul, Add, Softmax; run per step with its states fed back)."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper
    torch.set_num_threads(2)
    torch.manual_seed(0)
    V, E, H = STREAM_VOCAB, STREAM_EMBED, STREAM_HIDDEN
    emb, lstm, lin = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H), torch.nn.Linear(H, V)
    out = {"pytorch": {}, "onnxruntime": {}}
    rng = np.random.default_rng(1)

    def summary(ts, B):
        us = [t * 1e6 for t in ts]
        med = statistics.median(us)
        return {"batch": B, "steps": len(us), "medianUs": med, "p99Us": pct(us, 0.99), "meanUs": sum(us) / len(us),
                "stepsPerSecond": 1e6 / med}

    # One-step ONNX graph with the same shapes (weights from the torch modules, gate order i,f,g,o -> i,o,f,c).
    def reorder(w):
        i, f, g, o = np.split(w, 4, axis=0)
        return np.concatenate([i, o, f, g], axis=0)
    wih, whh = lstm.weight_ih_l0.detach().numpy(), lstm.weight_hh_l0.detach().numpy()
    bias = np.concatenate([reorder(lstm.bias_ih_l0.detach().numpy()), reorder(lstm.bias_hh_l0.detach().numpy())])
    inits = [numpy_helper.from_array(emb.weight.detach().numpy(), "E"),
             numpy_helper.from_array(reorder(wih)[None], "W"), numpy_helper.from_array(reorder(whh)[None], "R"),
             numpy_helper.from_array(bias[None].astype(np.float32), "B"),
             numpy_helper.from_array(lin.weight.detach().numpy().T.copy(), "Wd"), numpy_helper.from_array(lin.bias.detach().numpy(), "bd"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0")]
    nodes = [helper.make_node("Gather", ["E", "ids"], ["e"]),
             helper.make_node("Unsqueeze", ["e", "axis0"], ["x"]),
             helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["", "h1", "c1"], hidden_size=H),
             helper.make_node("Squeeze", ["h1", "axis0"], ["h"]),
             helper.make_node("MatMul", ["h", "Wd"], ["z0"]), helper.make_node("Add", ["z0", "bd"], ["z"]),
             helper.make_node("Softmax", ["z"], ["probs"], axis=-1)]
    graph = helper.make_graph(nodes, "step", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B"]),
                                              helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, "B", H]),
                                              helper.make_tensor_value_info("c0", TensorProto.FLOAT, [1, "B", H])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("probs", "h1", "c1")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    for B in batches:
        ids = rng.integers(0, V, size=(warmup + steps, B))
        # PyTorch eager.
        ts = []
        with torch.inference_mode():
            h, c = torch.zeros(1, B, H), torch.zeros(1, B, H)
            for i in range(warmup + steps):
                t0 = time.perf_counter()
                x = torch.from_numpy(ids[i]).view(1, B)
                y, (h, c) = lstm(emb(x), (h, c))
                p = torch.softmax(lin(y[0]), dim=-1)
                t1 = time.perf_counter()
                if i >= warmup:
                    ts.append(t1 - t0)
        out["pytorch"][str(B)] = summary(ts, B)
        # onnxruntime, one graph run per step.
        ts = []
        h, c = np.zeros((1, B, H), np.float32), np.zeros((1, B, H), np.float32)
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            p, h, c = sess.run(None, {"ids": ids[i], "h0": h, "c0": c})
            t1 = time.perf_counter()
            if i >= warmup:
                ts.append(t1 - t0)
        out["onnxruntime"][str(B)] = summary(ts, B)
        for who in ("pytorch", "onnxruntime"):
            r = out[who][str(B)]
            print(f"stream {who:12s} batch {B:3d}: median {r['medianUs']:9.1f} us, p99 {r['p99Us']:9.1f} us "
                  f"({r['stepsPerSecond']:.0f} steps/s)", flush=True)
    return out


def read_rss(log):
    """The 'peak RSS (VmHWM): X MB' line of an lstm-bench log, in MB (None when absent)."""
    try:
        with open(log) as f:
            for line in f:
                if line.startswith("peak RSS (VmHWM):"):
                    return float(line.split(":")[1].split()[0])
    except OSError:
        pass
    return None


def inference_sections(args, bench, torch_results):
    """BENCHMARKS.md's inference sections: the forward (predict's inference path) against the best of PyTorch and
    onnxruntime, streaming latency, and predict's peak RSS. Empty when the run measured none of them."""
    lines = []
    fwd = []
    for r in bench["results"]:
        name = r["config"]["name"]
        modes = {m["mode"]: m for m in r["modes"]}
        t = torch_results.get(name, {})
        if "predict" not in modes or "forward" not in t:
            continue
        lk = modes["predict"]
        peers = [("PyTorch", t["forward"])] + ([("onnxruntime", t["forward_ort"])] if "forward_ort" in t else [])
        best = min(p[1]["medianMs"] for p in peers)
        rounds_lk = lk.get("rounds", [lk["medianMs"]])
        rounds_peer = [min(vals) for vals in zip(*[p[1].get("rounds", [p[1]["medianMs"]]) for p in peers])]
        paired = [b / a for a, b in zip(rounds_lk, rounds_peer)]
        fwd.append((name, r, modes, t, best, paired))
    if fwd:
        lines += ["", "## Forward: predict's inference path against PyTorch and onnxruntime", "",
                  "LSTMKit `predict` runs the inference path (`LSTMInference`: no gates, no state tapes; lstm-bench mode "
                  "`predict`); `forward` is the training forward with `training = false`. PyTorch: `lstm.eval()` under "
                  "`torch.no_grad()` (oneDNN). onnxruntime: one `LSTM` op per layer, 2 intra-op threads. Ratio = the best "
                  "peer's ms / LSTMKit predict ms (> 1: LSTMKit faster); paired = the median of each round's own ratio. "
                  "Goals: CPU >= 1.3x on every preset, OpenCL (PoCL) >= 0.9x.", "",
                  "| preset | device | LSTMKit predict ms | LSTMKit forward ms | PyTorch ms | onnxruntime ms | ratio | paired (per round) | goal |",
                  "|---|---|---:|---:|---:|---:|---:|---|---|"]
        for name, r, modes, t, best, paired in fwd:
            goal = 1.3 if r["deviceKind"] == "cpu" else 0.9
            ratio = best / modes["predict"]["medianMs"]
            ort_ms = f"{t['forward_ort']['medianMs']:.2f}" if "forward_ort" in t else "-"
            fw = f"{modes['forward']['medianMs']:.2f}" if "forward" in modes else "-"
            med = statistics.median(paired)
            lines.append(f"| {name} | {r['device']} | {modes['predict']['medianMs']:.2f} | {fw} | {t['forward']['medianMs']:.2f} | "
                         f"{ort_ms} | {ratio:.2f} | {med:.2f} ({', '.join(f'{x:.2f}' for x in paired)}) | "
                         f"{'met' if med >= goal else 'NOT met'} ({goal}x) |")
    if args.stream_json and args.load_stream:
        lk_parts = [json.load(open(p)) for p in args.stream_json]
        py_parts = [json.load(open(p)) for p in args.load_stream]
        lines += ["", "## Streaming: per-step latency of the char-LM shape", "",
                  f"{lk_parts[0]['shape']}, one step = one token per stream (PyTorch: `nn.Embedding(84, 32)`, `nn.LSTM(32, 256)`, "
                  "`nn.Linear(256, 84)` + softmax). LSTMKit: `Sequential.step` with host ids in and host probabilities out "
                  "(what `lstm generate` does per character). PyTorch eager: the modules called per step with the state, under "
                  "`torch.inference_mode()`, 2 threads. onnxruntime: a one-step graph (Gather, LSTM with initial states, MatMul, "
                  "Add, Softmax) run per step, states fed back, 2 threads. Each step timed alone, "
                  f"{lk_parts[0]['results'][0]['steps']} steps per batch size after a warm-up; the medians and p99s of "
                  f"{len(lk_parts)} round(s) (LSTMKit then the peers, per round), their median. "
                  "Goal: CPU batch 1 >= 10x PyTorch eager's steps/s (about 65 us or less) and ahead of onnxruntime, with p99.", "",
                  "| device | batch | LSTMKit median us | p99 us | PyTorch median us | p99 us | onnxruntime median us | p99 us | x PyTorch (median / p99) | x onnxruntime (median / p99) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        keys = [(r["device"], r["batch"]) for r in lk_parts[0]["results"]]
        for device, B in keys:
            lk = [next(r for r in part["results"] if r["device"] == device and r["batch"] == B) for part in lk_parts]
            pt = [part["pytorch"][str(B)] for part in py_parts]
            ox = [part["onnxruntime"][str(B)] for part in py_parts]
            m = lambda rs, k: statistics.median(r[k] for r in rs)
            lines.append(f"| {device} | {B} | {m(lk, 'medianUs'):.1f} | {m(lk, 'p99Us'):.1f} | {m(pt, 'medianUs'):.1f} | "
                         f"{m(pt, 'p99Us'):.1f} | {m(ox, 'medianUs'):.1f} | {m(ox, 'p99Us'):.1f} | "
                         f"{m(pt, 'medianUs') / m(lk, 'medianUs'):.1f} / {m(pt, 'p99Us') / m(lk, 'p99Us'):.1f} | "
                         f"{m(ox, 'medianUs') / m(lk, 'medianUs'):.2f} / {m(ox, 'p99Us') / m(lk, 'p99Us'):.2f} |")
    if args.rss_logs:
        rss = [(log, read_rss(log)) for log in args.rss_logs]
        lines += ["", "## Peak RSS of the forward, preset L, CPU", "",
                  "Each in its own process (`lstm-bench --preset L --device cpu --modes MODE --no-check --no-profile`), "
                  "VmHWM at the end: the inference path (`predict`) against the training forward (`forward`, which "
                  "keeps gates [T, B, 4H] and h, c [T+1, B, H] for backward: 4 * 100 * 64 * (2048 + 2 * 512) bytes = 79 MB "
                  "at preset L). Both processes also hold the benchmark's inputs, targets and the sgemm peak's matrices.", "",
                  "| run | peak RSS MB |", "|---|---:|"]
        for log, mb in rss:
            lines.append(f"| `{os.path.basename(log)}` | {mb if mb is not None else 'n/a'} |")
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", nargs="+", help="lstm-bench --json output(s) to compare against (merged in order)")
    p.add_argument("--load-pytorch", nargs="+", help="use PyTorch results saved with --out-json instead of measuring")
    p.add_argument("--preset", default="all", help="S, M, L, D, M2, CL (the Conv2D + LSTM model), comma-separated, or all (S-M2; default: all, or those in --json)")
    p.add_argument("--modes", default="forward,fwdbwd,train")
    p.add_argument("--budget", type=float, default=2.0, help="seconds of timed runs per mode")
    p.add_argument("--min-repeats", type=int, default=3)
    p.add_argument("--max-repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--out-json", help="write PyTorch's results here")
    p.add_argument("--torch-device", default="cpu", choices=["cpu", "cuda"],
                   help="where PyTorch runs: cpu (2 threads; BENCHMARKS.md) or cuda (cuDNN fp32, for a GPU machine)")
    p.add_argument("--markdown", help="write BENCHMARKS.md here (needs --json)")
    p.add_argument("--onnxruntime", action="store_true", help="also time onnxruntime's LSTM op on the presets' forward")
    p.add_argument("--stream", action="store_true", help="time streaming (PyTorch eager, onnxruntime one-step graph) instead")
    p.add_argument("--stream-steps", type=int, default=10000)
    p.add_argument("--stream-batches", default="1,32")
    p.add_argument("--stream-json", nargs="+", help="lstm-bench --stream --json output(s), for --markdown")
    p.add_argument("--load-stream", nargs="+", help="--stream --out-json output(s), for --markdown")
    p.add_argument("--rss-logs", nargs="+", help="lstm-bench logs with a 'peak RSS' line, for --markdown")
    args = p.parse_args()
    if args.stream:
        result = bench_stream([int(b) for b in args.stream_batches.split(",")], args.stream_steps, 200)
        if args.out_json:
            with open(args.out_json, "w") as f:
                json.dump(result, f, indent=2, sort_keys=True)
        return
    args.command = "python3 " + " ".join(sys.argv)

    bench = None
    if args.json:
        for path in args.json:
            with open(path) as f:
                part = json.load(f)
            if bench is None:
                bench = part
                bench["commands"] = [part["command"]]
            else:
                bench["results"] += part["results"]
                bench["commands"].append(part["command"])
                for device, peak in part["peaks"].items():
                    bench["peaks"].setdefault(device, peak)
                bench.setdefault("allPeaks", [])
            bench.setdefault("allPeaks", []).append(part["peaks"])
    if args.preset == "all":
        names = list(PRESETS) if bench is None else [n for n in PRESETS if any(r["config"]["name"] == n for r in bench["results"])]
    else:
        names = [n.strip().upper() for n in args.preset.split(",")]
    modes = set(args.modes.split(","))
    if bench is not None:
        bench["results"] = merge_bench(bench["results"])
    if args.load_pytorch:
        parts = []
        for path in args.load_pytorch:
            with open(path) as f:
                parts.append(json.load(f))
        torch_results = merge_torch(parts)
    else:
        torch_results = bench_pytorch(names, modes, args.warmup, args.min_repeats, args.max_repeats, args.budget,
                                      args.torch_device)
        if args.onnxruntime and "forward" in modes:
            for name, r in bench_onnxruntime_forward(names, args.warmup, args.min_repeats, args.max_repeats, args.budget).items():
                torch_results.setdefault(name, {}).update(r)
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump(torch_results, f, indent=2, sort_keys=True)
    if bench is None:
        return
    rows = ratio_rows(bench, torch_results)
    print_ratios(rows)
    if args.markdown:
        write_markdown(args.markdown, bench, torch_results, rows, args)


if __name__ == "__main__":
    main()
