#!/usr/bin/env bash
# Runs every OpenCL kernel of Kernels/*.cl under Oclgrind (Debian package `oclgrind`), a simulated OpenCL device
# that executes each work-item and reports data races, out-of-bounds accesses and API misuse that PoCL hides.
# Fails on any Oclgrind diagnostic, on any failed run, and when a kernel of Kernels/*.cl never ran.
#
#   scripts/oclgrind-check.sh            # builds (swift build --build-tests: a no-op after `swift test`), then checks
#   LOG_DIR=/tmp/og scripts/oclgrind-check.sh   # keep the full logs there (default: a temporary folder, kept on failure)
#
# Oclgrind is the only OpenCL platform of these runs (OCL_ICD_VENDORS names a folder holding only its ICD). It
# reports itself as a GPU, so the library picks the GPU profile: local-memory gemm (gemm_local.cl), the persistent
# forward (lstm_persistent.cl) for batches <= 16, scalar cells (CELL_VW 1). Each lstm-bench run prints its tuning
# and this script checks it. Plugins on: OCLGRIND_DATA_RACES (races), OCLGRIND_CHECK_API (API misuse), the memory
# checker (always on), OCLGRIND_INST_COUNTS (which kernels ran: the coverage table). The uninitialized-memory
# plugin stays off: it aborts on LLVM's `freeze`.
#
# What runs (shapes: B 2-17, T 2-4, H 7-64; Oclgrind runs ~10^4-10^5 times slower than PoCL):
#   - lstm-bench --modes train on custom shapes: the check against the CPU path (forward + backward with input
#     gradient) and one training step (MSE loss kernel, Adam), for every LSTM variant, bidirectional, 2 layers;
#     plus two runs in PoCL's profile (gemm.cl with its register blocks, CELL_VW and COLUMN_VW 16, native_exp);
#   - a filtered XCTest run: every training.cl kernel against its CPU twin (TrainingKernelParityTests),
#     elementwise.cl, GRU and LSTM against PyTorch on OpenCL (variable lengths, projection), and SGD/Adam/RMSprop
#     with clipping through Sequential training; Conv2D and the pools against PyTorch (conv.cl, pooling.cl).
# First, a canary: a copy of the kernels with an injected out-of-bounds write and a data race must be reported,
# or the check itself is broken.
set -uo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS

# --- Oclgrind installed and registered as the only platform.
if ! command -v oclgrind >/dev/null 2>&1 || [ ! -e /usr/lib/oclgrind/liboclgrind-rt-icd.so ]; then
    bash scripts/install-deps.sh oclgrind || { echo "oclgrind-check: cannot install oclgrind"; exit 2; }
fi
WORK=$(mktemp -d /tmp/oclgrind-check.XXXXXX)
LOG_DIR=${LOG_DIR:-$WORK/logs}
mkdir -p "$WORK/vendors" "$LOG_DIR"
rm -f "$LOG_DIR"/[0-9]*.log "$LOG_DIR/canary.log"  # a reused LOG_DIR: no stale logs in the coverage count
echo /usr/lib/oclgrind/liboclgrind-rt-icd.so > "$WORK/vendors/oclgrind.icd"
# A clean environment for the library: no tuning overrides from the caller, no stored autotune entry.
for v in $(compgen -e | grep '^LSTMKIT_'); do unset "$v"; done
for v in $(compgen -e | grep '^OCLGRIND_'); do unset "$v"; done
export OCL_ICD_VENDORS="$WORK/vendors" LSTMKIT_TUNING_FILE="$WORK/no-tuning.json" LSTMKIT_REQUIRE_OPENCL=1
export OCLGRIND_DATA_RACES=1 OCLGRIND_CHECK_API=1 OCLGRIND_INST_COUNTS=1

# --- Build (a no-op when `swift test` has just run).
swift build --build-tests >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; echo "oclgrind-check: build failed"; exit 2; }
BIN=$(swift build --show-bin-path)
BENCH="$BIN/lstm-bench --device opencl --budget 0.01 --min-repeats 1 --max-repeats 1 --warmup 0 --peak-size 8 --no-profile --modes train"

# Oclgrind's diagnostics: every kernel-side one carries "Kernel:"/"Entity:" lines; API misuse "Oclgrind - OpenCL
# runtime error detected"; bad Oclgrind settings "Oclgrind: Invalid value".
DIAG='^[[:space:]]+(Kernel|Entity): |Oclgrind - |Oclgrind: |OCLGRIND|data race|Invalid (read|write)|out-of-bounds|Uninitiali[sz]ed|divergence|Unaligned'
# The instruction counter's per-launch blocks, left out of what is shown (they stay in the logs).
COUNTS='^Instructions executed for kernel |^ +[0-9]+ - |^$'

failures=()
SUMMARY=()
run() {  # run LABEL EXPECT(gpu|-) ENV... -- COMMAND...: one checked run, its log in $LOG_DIR
    local label=$1 expect=$2; shift 2
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    local n=$(( ${#SUMMARY[@]} + 1 ))
    local log; log=$(printf '%s/%02d.log' "$LOG_DIR" "$n")
    local t0; t0=$(date +%s%N)
    env "${envs[@]}" "$@" >"$log" 2>&1
    local rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local wall; wall=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
    local diags; diags=$(grep -cE "$DIAG" "$log")
    local status=ok
    if [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"; fi
    if [ "$diags" -gt 0 ]; then status="FAILED ($diags Oclgrind diagnostic lines)"; fi
    if ! grep -q "Oclgrind" "$log" && [[ "$label" != xctest* ]]; then status="FAILED (not on Oclgrind)"; fi
    if [ "$expect" = gpu ] && ! grep -q "GEMM_KIND=local .*PERSISTENT_MAX_BATCH=16 " "$log"; then
        status="FAILED (not the GPU profile: $(grep -m1 'tuning:' "$log"))"
    fi
    SUMMARY+=("$(printf '%6.1f s  %-4s %s' "$wall" "$([ "$status" = ok ] && echo ok || echo FAIL)" "$label")")
    printf '[%2d] %6.1f s  %s  %s\n' "$n" "$wall" "$status" "$label"
    if [ "$status" != ok ]; then
        failures+=("$label: $status (log $log)")
        grep -vE "$COUNTS" "$log" | grep -E -B1 -A6 "$DIAG|error|FAIL|rror:" | head -60
    fi
}

# --- Canary: an out-of-bounds write and a write-write race injected into fill() must be reported.
cp -r Kernels "$WORK/canary-kernels"
sed -i 's/if (i < n) x\[off + i\] = value;/if (i < n) { x[off + i + n] = value; x[off] = (float)i; }  \/\/ canary/' \
    "$WORK/canary-kernels/elementwise.cl"
grep -q canary "$WORK/canary-kernels/elementwise.cl" || { echo "oclgrind-check: cannot inject the canary (fill changed?)"; exit 2; }
LSTMKIT_KERNEL_DIR="$WORK/canary-kernels" OCLGRIND_INST_COUNTS=0 swift test --skip-build --disable-swift-testing \
    --filter 'OpenCLParityTests/testElementwiseKernels' >"$LOG_DIR/canary.log" 2>&1
# (The same pattern, $DIAG, that fails the runs below must see them.)
if grep -q "Invalid write" "$LOG_DIR/canary.log" && grep -q "data race" "$LOG_DIR/canary.log" \
        && grep -qE "$DIAG" "$LOG_DIR/canary.log"; then
    echo "canary: the injected out-of-bounds write and data race were reported ($(grep -cE "$DIAG" "$LOG_DIR/canary.log") diagnostic lines)"
else
    echo "oclgrind-check: FAILED: Oclgrind did not report the injected bugs (log $LOG_DIR/canary.log)"; exit 2
fi

echo "== lstm-bench, training step + check against the CPU, GPU profile"
run "B3 T4 I5 H37: persistent forward, W_hh in local memory" gpu -- $BENCH --batch 3 --seq 4 --input 5 --hidden 37
run "B16 T2 I9 H64: persistent forward, W_hh in global memory" gpu -- $BENCH --batch 16 --seq 2 --input 9 --hidden 64
run "B17 T3 I6 H7 2 layers bidirectional: per-step cell (B > 16)" gpu -- $BENCH --batch 17 --seq 3 --input 6 --hidden 7 --layers 2 --bidirectional
run "B5 T3 I4 H23 projection 11, peephole, cell clip 0.5" gpu -- $BENCH --batch 5 --seq 3 --input 4 --hidden 23 --proj 11 --peephole --cell-clip 0.5
run "B4 T4 I7 H29 layer norm, bidirectional" gpu -- $BENCH --batch 4 --seq 4 --input 7 --hidden 29 --layer-norm --bidirectional
run "B2 T4 I3 H13 recurrent dropout 0.3, 2 layers" gpu -- $BENCH --batch 2 --seq 4 --input 3 --hidden 13 --recurrent-dropout 0.3 --layers 2
run "B5 T2 I5 H31 all variants, 2 layers bidirectional" gpu -- $BENCH --batch 5 --seq 2 --input 5 --hidden 31 --layers 2 --bidirectional \
    --proj 5 --peephole --layer-norm --cell-clip 0.5 --recurrent-dropout 0.3
run "B7 T3 I5 H19 PREFER_NN=0 (gemm_local NT)" - LSTMKIT_PREFER_NN=0 -- $BENCH --batch 7 --seq 3 --input 5 --hidden 19
echo "== lstm-bench, PoCL's profile on the simulator (gemm.cl with PoCL's blocks, vector cell and column sums)"
POCL=(LSTMKIT_GEMM_KIND=blocked LSTMKIT_GEMM_NN=8x16/16/16 LSTMKIT_GEMM_TN=8x32/16/16 LSTMKIT_GEMM_NT=4x4/8/16
      LSTMKIT_COLUMN_VW=16 LSTMKIT_NATIVE_EXP=1 LSTMKIT_PERSISTENT_MAX_BATCH=0)
run "B6 T3 I5 H21 gemm.cl (GEMM_KIND=blocked, PoCL's blocks), COLUMN_VW 16, native exp" - "${POCL[@]}" -- \
    $BENCH --batch 6 --seq 3 --input 5 --hidden 21
# Oclgrind 21.10's instruction counter corrupts its own heap (abort or SIGSEGV inside liboclgrind) when one
# lstm_cell_forward launch runs both the vector body and the scalar tail (CELL_VW 16 and H 21; H 16 or H 3 run
# fine); without the counter the memory and race checks run clean. So this run counts no kernels (all ran above).
run "B6 T3 I5 H21 the same with the vector cell (CELL_VW 16), no instruction counts" - "${POCL[@]}" LSTMKIT_CELL_VW=16 \
    OCLGRIND_INST_COUNTS=0 -- $BENCH --batch 6 --seq 3 --input 5 --hidden 21
echo "== XCTest on Oclgrind (the only OpenCL platform, so opencl:0)"
TESTS='TrainingKernelParityTests|OpenCLParityTests/testElementwiseKernels|GRUTests/testAgainstPyTorchOnOpenCL'
TESTS+='|PyTorchGoldenTests/testAgainstPyTorchOnOpenCL|TrainingBehaviourTests/testOptimizerVariantsMatchAcrossDevices'
# conv.cl and pooling.cl: every Conv2D and pooling golden case (strides, 'same' on odd sizes, dilation, 1x1), ~15 s.
TESTS+='|ConvGoldenTests'
TESTS+='|StreamingTests/testCoreStepsMatchForward|StreamingTests/testSequentialStepMatchesForward|InferencePathTests/testCoreInferenceForwardIsTheTrainingForwardBitForBit|FusedInferenceStepTests'  # inference.cl (lstm_step_infer runs only where a test forces it: Oclgrind is a GPU-profile device)
run "xctest: training.cl kernels, elementwise.cl, GRU + LSTM golden (variable lengths, projection), SGD/Adam/RMSprop" - -- \
    swift test --skip-build --disable-swift-testing --filter "$TESTS"
grep -q "Executed [1-9][0-9]* tests*, with 0 failures" "$(printf '%s/%02d.log' "$LOG_DIR" "${#SUMMARY[@]}")" \
    || failures+=("xctest: no 'Executed N tests, with 0 failures' line")

# --- Coverage: every kernel of Kernels/*.cl launched at least once under Oclgrind. `gemm` is in two files: a
# launch whose instruction counts show __local loads is gemm_local.cl's, one without is gemm.cl's.
# Kernels that no path launches, excluded from the check (none today):
EXCLUDED=()
awk '
    /^Instructions executed for kernel / { if (name != "") emit(); name = $5; gsub(/[\047:]/, "", name); local = 0; next }
    name != "" && /load local/ { local = 1 }
    name != "" && /^$/ { emit(); name = "" }
    function emit() { k = name; if (name == "gemm") k = local ? "gemm_local.cl:gemm" : "gemm.cl:gemm"; n[k]++ }
    END { if (name != "") emit(); for (k in n) print k, n[k] }
' "$LOG_DIR"/[0-9]*.log > "$WORK/launched.txt"
echo
echo "Coverage: launches under Oclgrind per kernel (all runs with instruction counts)"
printf '  %-20s %-28s %9s\n' file kernel launches
missing=()
for f in Kernels/*.cl; do
    file=$(basename "$f")
    for k in $(perl -0777 -ne 'while (/__kernel\s+(?:__attribute__\s*\(\(.*?\)\)\s*)?void\s+(\w+)\s*\(/gs) { print "$1\n" }' "$f"); do
        key=$k; [ "$k" = gemm ] && key="$file:gemm"
        count=$(awk -v k="$key" '$1 == k { print $2 }' "$WORK/launched.txt")
        count=${count:-0}
        note=""
        if [ "$count" -eq 0 ]; then
            if printf '%s\n' "${EXCLUDED[@]}" | grep -qx "$file:$k"; then note="  (excluded)"; else note="  NEVER LAUNCHED"; missing+=("$file:$k"); fi
        fi
        printf '  %-20s %-28s %9d%s\n' "$file" "$k" "$count" "$note"
    done
done
[ ${#missing[@]} -eq 0 ] || failures+=("kernels never launched under Oclgrind: ${missing[*]}")

echo
echo "Runs (wall time, Oclgrind with the race, memory and API checks):"
printf '  %s\n' "${SUMMARY[@]}"
echo "oclgrind-check: $(( SECONDS - START )) s in all"
if [ ${#failures[@]} -gt 0 ]; then
    echo "oclgrind-check: FAILED"
    printf '  %s\n' "${failures[@]}"
    echo "  logs: $LOG_DIR"
    exit 1
fi
echo "oclgrind-check: OK: no Oclgrind diagnostic, every kernel launched"
rm -rf "$WORK/canary-kernels" "$WORK/vendors"
[ "$LOG_DIR" = "$WORK/logs" ] && rm -rf "$WORK"
exit 0
