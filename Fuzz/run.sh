#!/usr/bin/env bash
# Builds the libFuzzer target (the safetensors parser and the model.json loader, from the library's own sources)
# and runs it for SECONDS (default 60) on the committed corpus. New inputs go to .build-fuzz/corpus; crashes to
# .build-fuzz/crash-*. Usage: Fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true
out=.build-fuzz
mkdir -p "$out/corpus"
# The types the parsers use, cut from their files (one copy of every source; a changed definition is picked up).
# The layer classes themselves are stand-ins (Fuzz/Stubs.swift): their model.json code is compiled from the sources.
{
    awk '/^public enum Precision/,/^}/' Sources/LSTMKit/Backend/Backend.swift
    awk '/^public enum Activation/,/^}/' Sources/LSTMKit/Backend/TrainingBackend.swift
    awk '/^public enum MergeMode/,/^}/' Sources/LSTMKit/NN/Bidirectional.swift
    awk '/^public struct LSTMOptions/,/^}/' Sources/LSTMKit/NN/LSTMLayer.swift
    awk '/^public enum RecurrentCell/,/^}/' Sources/LSTMKit/NN/RecurrentLayer.swift
} > "$out/Types.swift"
for t in Precision Activation MergeMode LSTMOptions RecurrentCell; do grep -q "$t" "$out/Types.swift" || { echo "run.sh: $t not found in the sources" >&2; exit 1; }; done
nn=Sources/LSTMKit/NN ser=Sources/LSTMKit/Serialization
swiftc -sanitize=fuzzer,address -parse-as-library -g -O -module-name LSTMKit \
    Sources/LSTMKit/Core/Errors.swift Sources/LSTMKit/Core/Memory.swift \
    $ser/StrictJSON.swift $ser/SafeTensors.swift $ser/ModelSpec.swift $ser/LegacyModelSpec.swift $ser/LegacyLayerSpec.swift \
    $ser/ConfigCheck.swift $ser/CheckedLayerConfig.swift $ser/ConfigFieldError.swift \
    $nn/ConfigurableLayer.swift $nn/AnyLayerConfig.swift $nn/RecurrentLayer+Config.swift $nn/RecurrentLayerConfig.swift \
    $nn/Dense+Config.swift $nn/TimeDistributed+Config.swift $nn/Embedding+Config.swift $nn/Dropout+Config.swift \
    $nn/LSTMLayer+Config.swift $nn/GRULayer+Config.swift $nn/Bidirectional+Config.swift $nn/Sequential+Config.swift \
    Tests/LoadCheck/Mutator.swift "$out/Types.swift" Fuzz/Stubs.swift Fuzz/FuzzTarget.swift -o "$out/lstmkit-fuzz"
cd "$out"
# Swift's own backtracer reads memory ASan reports as an overflow; libFuzzer prints the stack instead.
export SWIFT_BACKTRACE=enable=no
exec ./lstmkit-fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$@" corpus ../Fuzz/corpus
