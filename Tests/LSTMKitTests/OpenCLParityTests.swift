import XCTest
@testable import LSTMKit

/// OpenCL against the CPU path, both in Float32, on seeded random inputs with awkward shapes
/// (H not a multiple of 4, 8 or 16; batch 1; one time step; hidden size 1).
///
/// Tolerances: both paths compute in float32 but sum in different orders (OpenBLAS's blocked sgemm vs the
/// kernel's sequential fma chain), and use different expf implementations (glibc vs PoCL, each <= 2 ulp).
/// A length-K dot product then differs by up to about K * 2^-24 * sum|a*b|; for K <= 4H ~ 520 and O(1)
/// activations that is <= 3e-5 relative to the terms' magnitude. Forward values are bounded by 1 in size, so
/// outputs use atol 1e-5 (measured: a few 1e-7). Gradients grow through the recurrence, so they use
/// 1e-4 of the largest magnitude in each tensor (measured: ~1e-6). The masks of dropout and the elementwise
/// kernels (fill, transpose, column sums) involve no reassociation, and are held to bit equality or 1e-6.
final class OpenCLParityTests: XCTestCase {
    func testGemmAllTransposesOffsetsAndBeta() throws {
        var seed: UInt64 = 100
        try Self.compareGemm(try openCLDeviceOrSkip().backend, shapes: [(1, 1, 1), (7, 5, 3), (13, 33, 17), (64, 100, 37), (5, 257, 130)],
                             scalars: [(1.0, 0.0), (0.5, 1.0), (-1.25, 0.5)], seed: &seed, label: "gemm")
    }

    /// `backend`'s gemm against the CPU's for every shape, both transposes of A and B, and each (alpha, beta), with
    /// offsets and padded leading dimensions, comparing the whole C buffer (what lies outside C's [m, n] window
    /// must be untouched). With beta 0 the device's C window holds NaN: C must not be read. Bound: float32 sums
    /// over K in another order, 1e-5 * sqrt(K) absolute + 1e-5 relative. Returns the largest abs error.
    @discardableResult
    static func compareGemm(_ backend: Backend, shapes: [(Int, Int, Int)], scalars: [(Double, Double)], seed: inout UInt64,
                            label: String) throws -> Double {
        let cpu = Device.cpu.backend
        var worst = 0.0
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in scalars {
                        seed += 1
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                        let aRows = transA ? k : m, bRows = transB ? n : k
                        let (offA, offB, offC) = (5, 2, 7)
                        let a = randomValues(offA + aRows * lda, seed: seed).map(Float.init)
                        let b = randomValues(offB + bRows * ldb, seed: seed + 1000).map(Float.init)
                        let c = randomValues(offC + m * ldc, seed: seed + 2000).map(Float.init)
                        var cNaN = c
                        if beta == 0 { for i in 0..<m { for j in 0..<n { cNaN[offC + i * ldc + j] = .nan } } }
                        var results: [[Double]] = []
                        for (be, c0) in [(cpu, c), (backend, cNaN)] {
                            let (ba, bb, bc) = (try be.allocate(a.count), try be.allocate(b.count), try be.allocate(c.count))
                            try be.write(a, to: BufferView(ba)); try be.write(b, to: BufferView(bb)); try be.write(c0, to: BufferView(bc))
                            try be.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                        a: BufferView(ba, offA), lda: lda, b: BufferView(bb, offB), ldb: ldb,
                                        beta: beta, c: BufferView(bc, offC), ldc: ldc)
                            results.append(try be.readDoubles(BufferView(bc), count: c.count))
                        }
                        assertClose(results[1], results[0], atol: 1e-5 * Double(k).squareRoot(), rtol: 1e-5,
                                    "\(label) m\(m) n\(n) k\(k) tA\(transA) tB\(transB) alpha\(alpha) beta\(beta)")
                        worst = max(worst, maxAbsDiff(results[1], results[0]))
                    }
                }
            }
        }
        return worst
    }

    func testElementwiseKernels() throws {
        let cl = try openCLDeviceOrSkip().backend
        let cpu = Device.cpu.backend
        let (d0, d1, f) = (3, 5, 7)
        let x = randomValues(d0 * d1 * f + 4, seed: 7).map(Float.init)
        var outs: [[[Double]]] = []
        for be in [cpu, cl] {
            let src = try be.allocate(x.count)
            try be.write(x, to: BufferView(src))
            let t = try be.allocate(d0 * d1 * f)
            try be.transpose01(d0: d0, d1: d1, features: f, src: BufferView(src, 4), dst: BufferView(t))
            let sums = try be.allocate(f + 1)
            try be.fill(BufferView(sums), count: f + 1, value: 2)
            try be.columnSum(m: d0 * d1, n: f, x: BufferView(src, 4), ld: f, beta: 1, out: BufferView(sums, 1))
            let dropped = try be.allocate(x.count)
            try be.dropout(count: x.count, p: 0.3, seed: 12345, x: BufferView(src), y: BufferView(dropped))
            outs.append([try be.readDoubles(BufferView(t), count: d0 * d1 * f),
                         try be.readDoubles(BufferView(sums), count: f + 1),
                         try be.readDoubles(BufferView(dropped), count: x.count)])
        }
        XCTAssertEqual(outs[1][0], outs[0][0], "transpose01 must be exact")
        assertClose(outs[1][1], outs[0][1], atol: 1e-6, "column_sum")
        XCTAssertEqual(outs[1][2].map { $0 == 0 }, outs[0][2].map { $0 == 0 }, "dropout masks must be identical")
        assertClose(outs[1][2], outs[0][2], atol: 1e-6, "dropout values")
        let kept = outs[0][2].filter { $0 != 0 }.count
        XCTAssert(kept > x.count / 2 && kept < x.count, "dropout p=0.3 kept \(kept) of \(x.count)")
    }

    struct Case {
        var I, H, L, B, T: Int
        var bidirectional = false, batchFirst = false
        var lengths: [Int]? = nil
        var dropout = 0.0
        var cellClip: Double? = nil
    }

    func testLSTMForwardBackwardOnOddShapes() throws {
        let device = try openCLDeviceOrSkip()
        let cases = [
            Case(I: 13, H: 5, L: 1, B: 1, T: 1),                                       // batch 1, one step
            Case(I: 3, H: 1, L: 1, B: 4, T: 6),                                        // hidden size 1
            Case(I: 19, H: 37, L: 2, B: 3, T: 9, bidirectional: true, batchFirst: true, lengths: [9, 4, 1], dropout: 0.3),
            Case(I: 7, H: 66, L: 1, B: 5, T: 12, lengths: [12, 11, 3, 7, 1]),
            Case(I: 64, H: 130, L: 1, B: 16, T: 20),
            Case(I: 5, H: 37, L: 2, B: 4, T: 10, bidirectional: true, lengths: [10, 7, 2, 5], cellClip: 0.25),  // vector + tail paths
        ]
        try Self.compareLayers(cases, on: device, seedBase: 200, label: "parity")
    }

    /// Runs each case's LSTM forward and backward on the CPU and on `device` (same seeded weights and inputs) and
    /// asserts outputs within 1e-5 and gradients within 1e-4 of each tensor's largest magnitude (float32 sums in
    /// another order over K <= 4H; see the class comment). Shared with GPUKernelTests' tuned devices.
    static func compareLayers(_ cases: [Case], on device: Device, seedBase: UInt64, label: String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        for (n, c) in cases.enumerated() {
            let D = c.bidirectional ? 2 : 1
            let inputShape = c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I]
            let seed = seedBase + UInt64(n)
            let x = randomValues(c.B * c.T * c.I, seed: seed)
            let st = c.L * D * c.B * c.H
            let (h0, c0) = (randomValues(st, seed: seed + 1), randomValues(st, seed: seed + 2))
            let (gOut, gH, gC) = (randomValues(c.B * c.T * D * c.H, seed: seed + 3), randomValues(st, seed: seed + 4),
                                  randomValues(st, seed: seed + 5))
            var runs: [LSTMRun] = []
            var names: [String] = []
            for dev in [Device.cpu, device] {
                let lstm = try LSTM(inputSize: c.I, hiddenSize: c.H, numLayers: c.L, batchFirst: c.batchFirst,
                                    dropout: c.dropout, bidirectional: c.bidirectional, cellClip: c.cellClip, device: dev, seed: seed)
                names = lstm.parameterNames
                runs.append(try runLSTM(lstm, input: x, inputShape: inputShape, lengths: c.lengths, h0: h0, c0: c0,
                                        gOut: gOut, gH: gH, gC: gC))
            }
            let (cpu, cl) = (runs[0], runs[1])
            let tag = "\(label) case \(n) \(c)"
            assertClose(cl.output, cpu.output, atol: 1e-5, "\(tag): output")
            assertClose(cl.hn, cpu.hn, atol: 1e-5, "\(tag): h_n")
            assertClose(cl.cn, cpu.cn, atol: 1e-5, "\(tag): c_n")
            var worst = maxAbsDiff(cl.output, cpu.output), worstGrad = 0.0
            var gradPairs = [(cl.dInput, cpu.dInput, "d input"), (cl.dh0, cpu.dh0, "d h0"), (cl.dc0, cpu.dc0, "d c0")]
            gradPairs += names.map { (cl.grads[$0]!, cpu.grads[$0]!, "d " + $0) }
            for (a, b, what) in gradPairs {
                assertClose(a, b, atol: 1e-4 * maxAbs(b), "\(tag): \(what)")
                worstGrad = max(worstGrad, maxAbsDiff(a, b) / max(maxAbs(b), .leastNormalMagnitude))
            }
            worst = max(worst, maxAbsDiff(cl.hn, cpu.hn), maxAbsDiff(cl.cn, cpu.cn))
            print("\(tag): max forward error \(worst), max gradient error / max|grad| \(worstGrad)")
        }
    }
}
