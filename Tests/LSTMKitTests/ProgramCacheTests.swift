import Foundation
import XCTest
@testable import LSTMKit
import LSTMKitKernels

/// Compiled programs are cached per context: a second layer on the same device builds nothing.
final class ProgramCacheTests: XCTestCase {
    func testSecondLayerDoesNotRecompile() throws {
        let device = try openCLDeviceOrSkip()
        let context = try XCTUnwrap(device.openCL)
        func trainStep() throws {
            let lstm = try LSTM(inputSize: 6, hiddenSize: 10, numLayers: 2, bidirectional: true, device: device, seed: 1)
            let x = try Tensor(shape: [4, 3, 6], values: (0..<72).map { Float($0) / 72 }, device: device)
            let (y, _) = try lstm.forward(x, lengths: [4, 2, 1])
            _ = try lstm.backward(gradOutput: Tensor(shape: y.shape, values: Array(repeating: 1, count: y.count), device: device))
            try device.synchronize()
        }
        try trainStep()
        let builds = context.buildCount
        XCTAssertGreaterThan(builds, 0)
        try trainStep()
        XCTAssertEqual(context.buildCount, builds, "a second layer on the same context must not compile again")
        XCTAssert(try Device.opencl(platform: context.info.platformIndex, device: context.info.deviceIndex) === device,
                  "asking for the same OpenCL device twice must give the same context")
    }

    func testBuildFailureCarriesTheBuildLog() throws {
        let context = try XCTUnwrap(try openCLDeviceOrSkip().openCL)
        XCTAssertThrowsError(try context.buildForTesting(source: "__kernel void broken(__global float *x) { x[0] = undefined_name; }",
                                                         file: "broken.cl")) { error in
            guard case let OpenCLError.build(file, _, log) = error else { return XCTFail("expected .build, got \(error)") }
            XCTAssertEqual(file, "broken.cl")
            XCTAssert(log.contains("undefined_name"), "the build log should name the error: \(log)")
        }
    }

    /// The .cl files on disk (Kernels/, found from this file's path).
    static func kernelFilesOnDisk() throws -> [String: Data] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Kernels")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".cl") }
        return try Dictionary(uniqueKeysWithValues: names.map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) })
    }

    /// Every Kernels/*.cl on disk is embedded (kernels.c's list is the same set), with the file's exact bytes.
    func testEveryKernelFileIsEmbedded() throws {
        let onDisk = try Self.kernelFilesOnDisk()
        XCTAssertGreaterThanOrEqual(onDisk.count, 9, "Kernels/ should hold common.cl and the 8 kernel files")
        let embedded = (0..<Int(lstmkit_kernel_file_count())).map { String(cString: lstmkit_kernel_file_name(Int32($0))!) }
        XCTAssertEqual(Set(embedded), Set(onDisk.keys), "kernels.c must embed exactly the .cl files of Kernels/")
        XCTAssertEqual(embedded.count, Set(embedded).count, "a file listed twice in kernels.c")
        for (file, bytes) in onDisk {
            guard let source = lstmkit_kernel_source(file) else { XCTFail("\(file) is not embedded"); continue }
            XCTAssertEqual(Data(bytes: source, count: strlen(source)), bytes, "\(file): the embedded copy differs from the file")
        }
        XCTAssertNil(lstmkit_kernel_source("nope.cl"))
        XCTAssertThrowsError(try OpenCLContext.source(of: "nope.cl"))
    }

    /// Every Kernels/*.cl compiles on the OpenCL device with the prelude in front and its default defines, and
    /// only common.cl defines the prelude's names (a second definition would not compile).
    func testEveryKernelFileCompiles() throws {
        let context = try XCTUnwrap(try openCLDeviceOrSkip().openCL)
        let onDisk = try Self.kernelFilesOnDisk()
        for file in onDisk.keys.sorted() {
            XCTAssertNoThrow(try context.program(file: file, defines: [:]), file)
            if file != OpenCLContext.preludeFile {
                XCTAssert(try OpenCLContext.programSource(of: file).hasPrefix(try OpenCLContext.source(of: OpenCLContext.preludeFile)), file)
            }
        }
        XCTAssertThrowsError(try context.program(file: "nope.cl", defines: [:]))
    }
}
