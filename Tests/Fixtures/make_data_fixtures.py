"""Writes Tests/Fixtures/data/: .npy, .npz, CSV and safetensors files that DataLoaderTests reads back.

Every array is a formula that the Swift test recomputes: value(k) = (k % 23) * 0.5 - 4 for element k in row-major
order (integers: k % 23 - 4; unsigned: k % 23; bool: k % 3 == 0), so no Python is needed when the tests run.
Run: python3 Tests/Fixtures/make_data_fixtures.py  (numpy; safetensors.numpy for the .safetensors file)
"""
import os
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(out, exist_ok=True)


def formula(shape, kind):
    k = np.arange(int(np.prod(shape))).reshape(shape)
    if kind == "f":
        return (k % 23) * 0.5 - 4
    if kind == "i":
        return k % 23 - 4
    if kind == "u":
        return k % 23
    return k % 3 == 0


shape = (2, 3, 4)
for dtype in ["<f4", "<f8", ">f4", ">f8", "<i1", "<i2", "<i4", "<i8", ">i4", "<u1", "<u2", "<u4", "<u8", "|b1"]:
    kind = np.dtype(dtype).kind
    a = formula(shape, kind if kind != "b" else "b").astype(dtype)
    name = dtype.replace("<", "le_").replace(">", "be_").replace("|", "")
    np.save(os.path.join(out, f"{name}.npy"), a)
# Fortran order: the same values, stored column-major.
np.save(os.path.join(out, "fortran_f4.npy"), np.asfortranarray(formula(shape, "f").astype("<f4")))
# Format version 2.0 (a 4-byte header length).
with open(os.path.join(out, "v2_f4.npy"), "wb") as f:
    a = formula(shape, "f").astype("<f4")
    np.lib.format.write_array(f, a, version=(2, 0))
x = formula((5, 3), "f").astype(np.float32)
y = formula((5,), "i").astype(np.int64)
np.savez(os.path.join(out, "stored.npz"), x=x, y=y)
np.savez_compressed(os.path.join(out, "deflated.npz"), x=x, y=y)
# A larger compressed array, so that deflate uses dynamic Huffman blocks with back-references.
big = formula((300, 40), "f").astype(np.float32)
np.savez_compressed(os.path.join(out, "deflated_big.npz"), big=big)
# Seeded random values: the compressed archive must give exactly what the plain .npy holds.
r = np.random.default_rng(7).standard_normal((64, 33)).astype(np.float32)
np.save(os.path.join(out, "random.npy"), r)
np.savez_compressed(os.path.join(out, "random.npz"), r=r)
with open(os.path.join(out, "table.csv"), "w") as f:
    f.write("date,temp,\"wind, gusts\",label\n")
    for i in range(6):
        f.write(f"2020-01-0{i + 1},{(i % 23) * 0.5 - 4},{i * 2},{i % 2}\n")
try:
    from safetensors.numpy import save_file
    save_file({"x": x, "w": formula((4,), "f").astype(np.float64)}, os.path.join(out, "arrays.safetensors"))
except ImportError:
    print("safetensors not installed: arrays.safetensors not written")
print("wrote", sorted(os.listdir(out)))
