import XCTest
@_spi(Benchmark) @testable import LSTMKit

/// The OpenCL forward's CPU-device choices of docs/decisions/0028-pocl-forward.md: the wide NN gemm block (8 x 32 in
/// vectors of 16 floats) on devices whose preferred float vector width is 16, and transpose01's fixed work-group on
/// matrices. Both are forced on through a tuned device, so they are checked whatever the test machine's vector width.
/// Tolerances: the gemm as OpenCLParityTests.compareGemm (atol 1e-5 * sqrt(K), rtol 1e-5); a transpose copies values,
/// so it is exact; the inference path gives the training forward's bits on the same device (InferencePathTests), and
/// the CPU path's values within 1e-5 (OpenCLParityTests' forward bound).
final class PoCLForwardTests: XCTestCase {

    func testNNBlockFollowsThePreferredVectorWidth() {
        let wide = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: 16), store: nil, environment: [:])
        XCTAssertEqual("\(wide.nn)", "8x32/16/16")
        XCTAssertEqual("\(wide.tn)", "8x32/16/16")
        for width in [0, 4, 8] {  // AVX2 (PoCL znver3: 8) and unknown keep the narrower block
            XCTAssertEqual("\(OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: width), store: nil, environment: [:]).nn)", "8x16/16/16",
                           "width \(width)")
        }
        let gpu = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: true, width: 16), store: nil, environment: [:])
        XCTAssertEqual("\(gpu.nn)", "4x4/4/auto")
        XCTAssertNil(gpu.transposeTile)
        let tile = try? XCTUnwrap(wide.transposeTile)
        XCTAssertEqual([tile?.0, tile?.1, tile?.2], [1, 8, 64])
        // The environment still wins over the device default.
        let env = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: 16), store: nil, environment: ["LSTMKIT_GEMM_NN": "8x16/16/8"])
        XCTAssertEqual("\(env.nn)", "8x16/16/8")
    }

    func testWideNNBlockMatchesCPUWithEdges() throws {
        let device = tunedDevice(try openCLDeviceOrSkip()) { $0.nn = OpenCLTuning.wideNN }
        let cl = device.backend as! OpenCLBackend
        var seed: UInt64 = 28000
        try cl.setProfiling(true)
        // N not a multiple of 32 and M not of 8 (edge blocks), a K chunked at 1024, and the predict shapes' proportions.
        let worst = try OpenCLParityTests.compareGemm(cl, shapes: [(1, 1, 1), (13, 70, 33), (9, 32, 1100), (64, 1024, 256)],
                                                      scalars: [(1.0, 0.0), (0.75, 1.0)], seed: &seed, label: "gemm wide NN")
        let labels = Set(try cl.takeProfile().map(\.label))
        try cl.setProfiling(false)
        XCTAssertTrue(labels.contains("gemm_NN"), "the NN kernel ran: \(labels.sorted())")
        print("gemm wide NN: max abs error \(worst) against cblas")
    }

    func testTiledTransposeIsExact() throws {
        let device = tunedDevice(try openCLDeviceOrSkip()) { $0.transposeTile = (1, 8, 64) }
        let cl = device.backend, cpu = Device.cpu.backend
        // Neither side a multiple of the tile, a single row or column, and features > 1 (the runtime's group).
        for (d0, d1, f) in [(1, 1, 1), (7, 9, 1), (37, 131, 1), (2048, 3, 1), (1, 70, 1), (65, 8, 1), (5, 6, 3)] {
            let x = randomValues(d0 * d1 * f + 5, seed: UInt64(d0 * 1000 + d1)).map(Float.init)
            var results: [[Float]] = []
            for be in [cpu, cl] {
                let src = try be.allocate(x.count), dst = try be.allocate(d0 * d1 * f + 2)
                try be.write(x, to: BufferView(src))
                try be.fill(BufferView(dst), count: d0 * d1 * f + 2, value: -7)
                try be.transpose01(d0: d0, d1: d1, features: f, src: BufferView(src, 5), dst: BufferView(dst, 2))
                results.append(try be.readFloats(BufferView(dst), count: d0 * d1 * f + 2))
            }
            XCTAssertEqual(results[1], results[0], "transpose01 \(d0) x \(d1) x \(f)")
            XCTAssertEqual(results[1][0], -7, "nothing written before the destination's offset")
        }
    }

    /// The whole inference path with both choices forced on: the training forward's bits on the same device, and the
    /// CPU path's values. H = 37 makes 4H = 148 (edge blocks of the wide block in every step).
    func testInferencePathWithWideBlockAndTiledTranspose() throws {
        let device = tunedDevice(try openCLDeviceOrSkip()) { $0.nn = OpenCLTuning.wideNN; $0.transposeTile = (1, 8, 64) }
        let (T, B, I, H) = (9, 11, 40, 37)
        let values = randomValues(T * B * I, seed: 28).map { Float($0) }
        let lengths = [9, 3, 9, 1, 7, 9, 2, 9, 8, 5, 9]
        var outputs: [[Float]] = []
        for d in [device, Device.cpu] {
            let lstm = try LSTM(inputSize: I, hiddenSize: H, numLayers: 2, batchFirst: true, bidirectional: true,
                                device: d, seed: 5)
            lstm.training = false
            let x = try Tensor(shape: [B, T, I], values: values, device: d)
            let inference = try LSTMInference.forward(lstm, x, lengths: lengths, lastOnly: false)
            if d === device {
                let (y, (h, c)) = try lstm.forward(x, lengths: lengths)
                XCTAssertEqual(try inference.output!.toArray(), try y.toArray(), "output: the training forward's bits")
                XCTAssertEqual(try inference.h.toArray(), try h.toArray(), "h_n: the training forward's bits")
                XCTAssertEqual(try inference.c.toArray(), try c.toArray(), "c_n: the training forward's bits")
            }
            outputs.append(try inference.output!.toArray() + inference.h.toArray() + inference.c.toArray())
        }
        assertClose(outputs[0].map(Double.init), outputs[1].map(Double.init), atol: 1e-5, rtol: 0, "OpenCL against the CPU path")
    }
}
