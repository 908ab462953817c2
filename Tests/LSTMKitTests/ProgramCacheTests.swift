import XCTest
@testable import LSTMKit

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

    func testEveryKernelFileIsEmbedded() throws {
        for file in ["gemm.cl", "lstm_cell.cl", "elementwise.cl"] {
            XCTAssert(try OpenCLContext.source(of: file).contains("__kernel"), file)
        }
        XCTAssertThrowsError(try OpenCLContext.source(of: "nope.cl"))
    }
}
