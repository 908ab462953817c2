// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "LSTMKit",
    products: [
        .library(name: "LSTMKit", targets: ["LSTMKit"]),
    ],
    targets: [
        // System libraries: OpenCL through the ICD loader (ocl-icd-opencl-dev), cblas from OpenBLAS (libopenblas-dev).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // The .cl files, compiled into the binary with C23 #embed so a copied binary still has its kernels.
        .target(
            name: "LSTMKitKernels",
            path: "Kernels",
            exclude: ["gemm.cl", "lstm_cell.cl", "elementwise.cl", "training.cl", "gru_cell.cl", "README.md"],
            sources: ["kernels.c"],
            publicHeadersPath: "include"
        ),
        .target(
            name: "LSTMKit",
            dependencies: ["COpenCL", "CBLAS", "LSTMKitKernels"],
            path: "Sources/LSTMKit"
        ),
        .executableTarget(
            name: "quickstart",
            dependencies: ["LSTMKit"],
            path: "Examples/QuickStart"
        ),
        .testTarget(
            name: "LSTMKitTests",
            dependencies: ["LSTMKit"],
            path: "Tests/LSTMKitTests"
        ),
    ]
)
