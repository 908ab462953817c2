#!/usr/bin/env bash
# Packs lstm-bench for a machine with no Swift and no network (the lent GPU machine, see DEVELOPERS.md):
#   - lstm-bench, release, the Swift runtime linked in (--static-swift-stdlib), stripped; the kernels are
#     embedded in it (#embed), so no Kernels/ folder is needed;
#   - the shared libraries it loads that glibc does not provide: the OpenCL ICD loader (libOpenCL.so.1), which
#     then loads the machine's own OpenCL driver through /etc/OpenCL/vendors, and OpenBLAS with its Fortran
#     runtime (the CPU path);
#   - Benchmarks/compare_pytorch.py and scripts/gpu-run.sh;
# into .bench-gpu/lstmkit-bench.tar.gz (git-ignored; about 40 MB, under the device tool's 64 MiB carry limit).
#
#   scripts/gpu-bundle.sh
#   # then, with the device tool: carry [".bench-gpu"], command:
#   #   mkdir -p /tmp/b && tar xzf .bench-gpu/lstmkit-bench.tar.gz -C /tmp/b && /tmp/b/lstmkit-bench/gpu-run.sh "$OUT"
#
# Needs what scripts/install-deps.sh installs (Swift, OpenCL headers and loader, OpenBLAS).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-.build-static}"
DEST=.bench-gpu/lstmkit-bench
swift build -c release --static-swift-stdlib --product lstm-bench --scratch-path "$SCRATCH"
BIN="$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)/lstm-bench"
rm -rf .bench-gpu
mkdir -p "$DEST/lib"
cp "$BIN" "$DEST/lstm-bench"
strip "$DEST/lstm-bench"
# The non-glibc libraries lstm-bench loads, as ldd resolves them here (symlinks followed).
for lib in $(ldd "$BIN" | awk '/=> \// {print $3}'); do
    case "$(basename "$lib")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;  # glibc: the target's own
        libstdc++.so*|libgcc_s.so*) mkdir -p "$DEST/lib/fallback"; cp -L "$lib" "$DEST/lib/fallback/" ;;  # used only if missing there
        *) cp -L "$lib" "$DEST/lib/" ;;
    esac
done
cp Benchmarks/compare_pytorch.py scripts/gpu-run.sh "$DEST/"
git rev-parse HEAD > "$DEST/COMMIT" 2>/dev/null || echo unknown > "$DEST/COMMIT"
tar czf .bench-gpu/lstmkit-bench.tar.gz -C .bench-gpu lstmkit-bench
rm -rf "$DEST"
ls -l .bench-gpu/lstmkit-bench.tar.gz
