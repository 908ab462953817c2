#!/usr/bin/env python3
"""Runs an ONNX model with onnxruntime (CPU) for the Swift tests (ONNXExportTests, ONNXImportTests).

    python3 run_onnxruntime.py model.onnx inputs.safetensors outputs.safetensors

inputs.safetensors holds F32 tensors named "<set>/<graph input name>"; each set is one run. Every value is cast
to the element type the graph declares for that input (token ids to int64, lengths to int32; the Swift side
checks they are whole numbers). The outputs are written as "<set>/<graph output name>" (F32). The model is
first checked with onnx.checker (full_check, i.e. with shape inference), so an invalid graph fails here.
Needs: pip install onnx onnxruntime safetensors numpy
"""
import sys
import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

model_path, inputs_path, outputs_path = sys.argv[1:4]
onnx.checker.check_model(onnx.load(model_path), full_check=True)
session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}
declared = {i.name: types[i.type] for i in session.get_inputs()}
sets = {}
for key, value in load_file(inputs_path).items():
    run, name = key.split("/", 1)
    sets.setdefault(run, {})[name] = value.astype(declared[name])
outputs = {}
names = [o.name for o in session.get_outputs()]
for run, feed in sorted(sets.items()):
    for name, value in zip(names, session.run(None, feed)):
        outputs[f"{run}/{name}"] = np.ascontiguousarray(value.astype(np.float32))
save_file(outputs, outputs_path)
