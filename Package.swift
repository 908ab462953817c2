// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Every Kernels/*.cl: embedded by Kernels/kernels.c (the one list of them), not compiled as C sources.
let kernelFiles: [String] = {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Kernels").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".cl") }.sorted()
}()

let package = Package(
    name: "LSTMKit",
    products: [
        .library(name: "LSTMKit", targets: ["LSTMKit"]),
        .executable(name: "lstm", targets: ["lstm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX import/export: the generated Sources/LSTMKit/ONNX/third_party/onnx.pb.swift (scripts/generate-onnx-proto.sh), no build plugin.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // System libraries: OpenCL through the ICD loader (ocl-icd-opencl-dev), cblas from OpenBLAS (libopenblas-dev).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // The .cl files, compiled into the binary with C23 #embed so a copied binary still has its kernels.
        .target(
            name: "LSTMKitKernels",
            path: "Kernels",
            exclude: kernelFiles + ["README.md"],
            sources: ["kernels.c"],
            publicHeadersPath: "include"
        ),
        // The CPU path's float32 gemm kernels: the packed kernel (AVX-512F or AVX2 + FMA, picked at run time) of the
        // per-step recurrent products and the big products, and the small-M kernels (AVX2 + FMA).
        .target(
            name: "CSmallGemm",
            path: "Sources/CSmallGemm",
            publicHeadersPath: "include"
        ),
        // The float32 LSTM cell of the CPU path (C vector extensions; AVX-512F, AVX2 or baseline, chosen at run time).
        .target(
            name: "CLSTMCell",
            path: "Sources/CLSTMCell",
            publicHeadersPath: "include"
        ),
        // The CPU path's float32 inference kernels: the tape-free LSTM cell, the fused streaming step, a dense step.
        // Its cell is CLSTMCell's math: the static inline Sources/CLSTMCell/lstm_cell_math.h (not a public header).
        .target(
            name: "CInference",
            dependencies: ["CSmallGemm"],
            path: "Sources/CInference",
            publicHeadersPath: "include",
            cSettings: [.headerSearchPath("../CLSTMCell")]
        ),
        // Open MPI, loaded at run time with dlopen (no link dependency): see Sources/CMPIShim/include/lk_mpi.h.
        .target(
            name: "CMPIShim",
            path: "Sources/CMPIShim",
            publicHeadersPath: "include",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(
            name: "LSTMKit",
            dependencies: ["COpenCL", "CBLAS", "LSTMKitKernels", "CSmallGemm", "CLSTMCell", "CInference", "CMPIShim",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/LSTMKit",
            exclude: ["ONNX/third_party/onnx.proto", "ONNX/third_party/README.md"]
        ),
        .executableTarget(
            name: "quickstart",
            dependencies: ["LSTMKit"],
            path: "Examples/QuickStart"
        ),
        // The PyTorch tutorial port (next term of arithmetic sequences): sequence.py and its line-for-line LSTMKit twin.
        .executableTarget(
            name: "pytorch-sequence",
            dependencies: ["LSTMKit"],
            path: "Examples/PyTorchSequence",
            exclude: ["sequence.py", "data.npz"]
        ),
        .executableTarget(
            name: "tutorials",
            dependencies: ["LSTMKit"],
            path: "Examples/Tutorials",
            exclude: ["data", "make_data.py", "text_classification.py", "regression.py", "random_labels.py", "run_all.sh"]
        ),
        .executableTarget(
            name: "lstm-bench",
            dependencies: ["LSTMKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/lstm-bench"
        ),
        // The demo's data (a public-domain text and a public-domain monthly series), embedded with #embed.
        .target(
            name: "LSTMKitData",
            path: "Sources/LSTMKitData",
            exclude: ["devils_dictionary.txt", "elnino_sst.csv", "digits_8x8.csv", "README.md"],
            sources: ["data.c"],
            publicHeadersPath: "include"
        ),
        // The `lstm` command line: all logic in LSTMCLI (tested in-process), a thin executable around it.
        .target(
            name: "LSTMCLI",
            dependencies: ["LSTMKit", "LSTMKitData", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/LSTMCLI"
        ),
        .executableTarget(
            name: "lstm",
            dependencies: ["LSTMCLI"],
            path: "Sources/lstm"
        ),
        // Run by DistributedTests under mpirun: data-parallel equivalence, rank death and bad-setup checks.
        .executableTarget(
            name: "lstm-mpi-check",
            dependencies: ["LSTMKit"],
            path: "Tests/MPICheck"
        ),
        // Runs every public loader on hostile files in child processes (HostileFileTests, Fuzz/README.md).
        .executableTarget(
            name: "lstmkit-load-check",
            dependencies: ["LSTMKit"],
            path: "Tests/LoadCheck"
        ),
        .testTarget(
            name: "LSTMKitTests",
            dependencies: ["LSTMKit", "LSTMCLI"],
            path: "Tests/LSTMKitTests"
        ),
    ]
)
