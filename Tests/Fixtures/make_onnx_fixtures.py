#!/usr/bin/env python3
"""Regenerates the ONNX import fixtures in Tests/Fixtures/onnx (ONNXImportTests).

    pip install torch==2.13.0 onnx onnxruntime safetensors numpy
    python3 Tests/Fixtures/make_onnx_fixtures.py

torch_*.onnx: nn.LSTM / nn.GRU (2 layers, uni- and bidirectional, batch-first and time-major) exported by
torch.onnx.export (the TorchScript exporter, dynamo=False, opset 17, dynamic batch and sequence axes; the
torch_dynamo_* ones with torch 2.13's default exporter, dynamo=True, which needs `pip install onnxscript`), with
torch_*.safetensors holding two inputs (input0: batch 2, length 5; input1: batch 3, length 7) and PyTorch's outputs for
each (output{k}, h_n{k}, c_n{k}).
onnx_*.onnx: single LSTM/GRU nodes written with onnx.helper as onnx's own operator examples are
(onnx/backend/test/case/node/lstm.py: a time-major input X, W/R/B, outputs Y and Y_h), here with the weights as
initializers, one with peepholes (P) and one with sequence_lens; onnx_*.safetensors hold the inputs and
onnxruntime's outputs (the independent computation for these).
"""
import os
import zlib
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")
os.makedirs(OUT, exist_ok=True)
SHAPES = [(2, 5), (3, 7)]


def torch_fixture(name, module, batch_first, dynamo=False):
    module.eval()
    path = os.path.join(OUT, name + ".onnx")
    b, t = SHAPES[0]
    x = torch.randn((b, t, module.input_size) if batch_first else (t, b, module.input_size))
    is_lstm = isinstance(module, torch.nn.LSTM)
    outputs = ["output", "h_n"] + (["c_n"] if is_lstm else [])
    seq_axes = {0: "batch", 1: "seq"} if batch_first else {0: "seq", 1: "batch"}
    axes = {"input": seq_axes, "output": seq_axes, "h_n": {1: "batch"}, "c_n": {1: "batch"}}
    if dynamo:   # the default exporter of torch 2.13 (torch.export + onnxscript); it writes opset 20 here
        dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")} if batch_first else {0: torch.export.Dim("seq"), 1: torch.export.Dim("batch")}
        torch.onnx.export(module, (x,), path, dynamo=True, input_names=["input"], output_names=outputs, dynamic_shapes=(dims,),
                          external_data=False)
    else:
        torch.onnx.export(module, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                          output_names=outputs, dynamic_axes={k: v for k, v in axes.items() if k in ["input"] + outputs})
    tensors = {}
    for k, (b, t) in enumerate(SHAPES):
        x = torch.randn((b, t, module.input_size) if batch_first else (t, b, module.input_size))
        with torch.no_grad():
            y, state = module(x)
        states = state if is_lstm else (state,)
        tensors[f"input{k}"] = x.numpy()
        tensors[f"output{k}"] = y.numpy()
        for n, s in zip(outputs[1:], states):
            tensors[f"{n}{k}"] = s.numpy()
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, os.path.join(OUT, name + ".safetensors"))


def helper_fixture(name, op, hidden, input_size, direction="forward", peephole=False, lengths=False, **attrs):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    D = 2 if direction == "bidirectional" else 1
    G = 4 if op == "LSTM" else 3
    W = rng.uniform(-0.5, 0.5, (D, G * hidden, input_size)).astype(np.float32)
    R = rng.uniform(-0.5, 0.5, (D, G * hidden, hidden)).astype(np.float32)
    B = rng.uniform(-0.5, 0.5, (D, 2 * G * hidden)).astype(np.float32)
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B")]
    inputs = ["X", "W", "R", "B", "sequence_lens" if lengths else ""]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["seq", "batch", input_size])]
    if lengths:
        graph_inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["batch"]))
    if peephole:
        P = rng.uniform(-0.5, 0.5, (D, 3 * hidden)).astype(np.float32)
        inits.append(numpy_helper.from_array(P, "P"))
        inputs += ["", "", "P"]
    while inputs[-1] == "":
        inputs.pop()
    node = helper.make_node(op, inputs, ["Y", "Y_h"], hidden_size=hidden, direction=direction, **attrs)
    graph = helper.make_graph([node], name, graph_inputs,
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["seq", D, "batch", hidden]),
                               helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [D, "batch", hidden])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    tensors = {}
    for k, (b, t) in enumerate(SHAPES):
        x = rng.uniform(-1, 1, (t, b, input_size)).astype(np.float32)
        feed = {"X": x}
        tensors[f"X{k}"] = x
        if lengths:
            lens = np.array([t] + [max(1, t - 2 - j) for j in range(b - 1)], dtype=np.int32)
            feed["sequence_lens"] = lens
            tensors[f"sequence_lens{k}"] = lens.astype(np.float32)
        y, yh = session.run(None, feed)
        tensors[f"Y{k}"] = y
        tensors[f"Y_h{k}"] = yh
    save_file(tensors, os.path.join(OUT, name + ".safetensors"))


torch.manual_seed(19)
torch_fixture("torch_lstm_2layer", torch.nn.LSTM(3, 5, num_layers=2, batch_first=True), True)
torch_fixture("torch_lstm_2layer_bidirectional", torch.nn.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True), True)
torch_fixture("torch_gru_2layer", torch.nn.GRU(3, 4, num_layers=2, batch_first=True), True)
torch_fixture("torch_gru_2layer_bidirectional", torch.nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True), True)
torch_fixture("torch_lstm_time_major_bidirectional", torch.nn.LSTM(4, 3, num_layers=2, bidirectional=True), False)
torch_fixture("torch_dynamo_lstm_2layer_bidirectional", torch.nn.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True), True, dynamo=True)
torch_fixture("torch_dynamo_gru_2layer", torch.nn.GRU(3, 4, num_layers=2, batch_first=True), True, dynamo=True)
helper_fixture("onnx_lstm_example", "LSTM", 4, 3)
helper_fixture("onnx_lstm_peepholes_bidirectional", "LSTM", 3, 4, direction="bidirectional", peephole=True)
helper_fixture("onnx_gru_seq_lens", "GRU", 5, 3, direction="bidirectional", lengths=True, linear_before_reset=1)
print("wrote", sorted(os.listdir(OUT)))
