#!/usr/bin/env bash
# Regenerates Sources/LSTMKit/ONNX/third_party/onnx.pb.swift from Sources/LSTMKit/ONNX/third_party/onnx.proto
# (third_party: ONNX's schema and the code generated from it, apart from LSTMKit's own code).
#
# onnx.proto is ONNX's own schema, copied unchanged from the `onnx` 1.23.2 wheel on PyPI (onnx/onnx.proto,
# proto2 syntax; the wheel ships no onnx.proto3). Copyright the ONNX Project Contributors, Apache-2.0
# (SPDX line at its top; https://github.com/onnx/onnx/blob/main/LICENSE).
#
# Needs: protoc (Debian `protobuf-compiler`; 3.21.12 was used) and protoc-gen-swift of swift-protobuf 1.39.0,
# the version Package.swift pins. The generated file is committed, so building LSTMKit needs neither, and the
# SwiftPM build plugin is not used (it made a first build take minutes).
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift scripts/generate-onnx-proto.sh
# Without PROTOC_GEN_SWIFT the script builds it in a scratch package under ${TMPDIR:-/tmp} (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
    scratch="${TMPDIR:-/tmp}/lstmkit-protoc-gen-swift"
    mkdir -p "$scratch/Sources/dummy"
    echo 'print(0)' > "$scratch/Sources/dummy/main.swift"
    cat > "$scratch/Package.swift" <<'PKG'
// swift-tools-version: 6.0
import PackageDescription
let package = Package(name: "pgs",
  dependencies: [.package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0")],
  targets: [.executableTarget(name: "dummy", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")])])
PKG
    (cd "$scratch" && swift build -c release --product protoc-gen-swift)
    plugin="$scratch/.build/release/protoc-gen-swift"
fi
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal \
    --proto_path=Sources/LSTMKit/ONNX/third_party --swift_out=Sources/LSTMKit/ONNX/third_party onnx.proto
echo "wrote Sources/LSTMKit/ONNX/third_party/onnx.pb.swift"
