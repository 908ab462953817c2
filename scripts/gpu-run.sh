#!/usr/bin/env bash
# Runs on the GPU machine from the bundle that scripts/gpu-bundle.sh packs (lstm-bench, its libraries, this
# script, compare_pytorch.py). Writes into OUTDIR (default ./gpu-results):
#   opencl-environment.txt  the GPU (nvidia-smi), /etc/OpenCL/vendors and its .icd files, where
#                           libnvidia-opencl.so.1 is, and which ICD list lstm-bench was given
#   lstm-bench.log / .json  every preset (PRESETS, default all) on every device (--device all: each OpenCL
#                           device, then the CPU), each checked against the CPU path first
#   autotune.log            lstm-bench --autotune --dry-run (SKIP_AUTOTUNE=1 skips it)
#   pytorch-cuda.log        PyTorch nn.LSTM (cuDNN, fp32) on the same presets, only when torch with CUDA imports
#
#   gpu-run.sh OUTDIR
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-gpu-results}"
BUDGET="${BUDGET:-2}"
PRESETS="${PRESETS:-all}"
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The C++ runtime: the machine's own when it has one (its GPU driver may need that version), else the bundle's.
ldconfig -p 2>/dev/null | grep -q 'libstdc++.so.6 ' || LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$HERE/lib/fallback"
ENV_FILE="$OUT/opencl-environment.txt"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "lstmkit commit: $(cat "$HERE/COMMIT")"
    echo "kernel: $(uname -sr); cpus: $(nproc)"
    echo "--- nvidia-smi"
    if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    else echo "nvidia-smi: not found"; fi
    echo "--- /etc/OpenCL/vendors"
    ls -l /etc/OpenCL/vendors 2>&1
    for f in /etc/OpenCL/vendors/*.icd; do [ -e "$f" ] && echo "$f: $(cat "$f")"; done
    echo "--- libnvidia-opencl"
    ldconfig -p 2>/dev/null | grep -i 'libnvidia-opencl' || echo "not in the ldconfig cache"
    find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libnvidia-opencl.so*' -print 2>/dev/null | head -5
} > "$ENV_FILE" 2>&1

# NVIDIA's driver library present but not registered with the ICD loader: register it for this run only.
if ! grep -qsl nvidia /etc/OpenCL/vendors/*.icd; then
    lib="$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl.so.1/ {print $NF; exit}')"
    [ -z "$lib" ] && lib="$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libnvidia-opencl.so.1' -print 2>/dev/null | head -1)"
    if [ -n "$lib" ]; then
        mkdir -p "$OUT/vendors"
        echo "$lib" > "$OUT/vendors/nvidia.icd"
        export OCL_ICD_VENDORS="$OUT/vendors"
        echo "--- registered $lib for this run (OCL_ICD_VENDORS=$OCL_ICD_VENDORS)" >> "$ENV_FILE"
    else
        echo "--- no NVIDIA OpenCL driver found: lstm-bench will see only the other platforms (if any)" >> "$ENV_FILE"
    fi
fi
cat "$ENV_FILE"

"$HERE/lstm-bench" --preset "$PRESETS" --device all --budget "$BUDGET" --json "$OUT/lstm-bench.json" 2>&1 | tee "$OUT/lstm-bench.log"
[ "${SKIP_AUTOTUNE:-0}" = 1 ] || "$HERE/lstm-bench" --autotune --dry-run 2>&1 | tee "$OUT/autotune.log"
if python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    python3 "$HERE/compare_pytorch.py" --json "$OUT/lstm-bench.json" --torch-device cuda --budget "$BUDGET" 2>&1 | tee "$OUT/pytorch-cuda.log"
else
    echo "PyTorch with CUDA not importable here: no cuDNN comparison (install torch on this machine to get one)" | tee "$OUT/pytorch-cuda.log"
fi
