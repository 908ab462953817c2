#!/usr/bin/env bash
# Installs the system packages LSTMKit needs on Debian/Ubuntu, if any are missing:
#   OpenCL headers + ICD loader, PoCL (OpenCL on the CPU, so every machine can run the OpenCL path),
#   OpenBLAS (cblas for the CPU path), clinfo (to list devices),
#   Open MPI (libopenmpi-dev, openmpi-bin: mpirun, and libmpi.so.40 that LSTMKit loads at run time under mpirun).
# Extra package names as arguments are installed too (.ci/run: `install-deps.sh oclgrind` for scripts/oclgrind-check.sh).
set -euo pipefail
packages=(ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libopenblas-dev clinfo libopenmpi-dev openmpi-bin "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "install-deps: installing ${missing[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi
