import CSmallGemm
import Foundation
import XCTest
@testable import LSTMKit

/// Sources/CSmallGemm (the AVX2/FMA small-M sgemm behind CPUBackend<Float>.gemm, and the packed gemm behind
/// gemmPacked / StepOperand, in its AVX2 and AVX-512F builds) against cblas dgemm (CPUBackend<Double>.gemm) on the
/// same float32 inputs, and the packed gemm's two builds against each other bit for bit.
///
/// Tolerance: each C entry is a float32 sum of K products, accumulated in another order than the reference, so
/// the error is rounding only: about eps32 * sqrt(K) * sum_p |A[i][p] * B[p][j]| for random signs (K * eps32 *
/// that sum at worst). The check allows 1e-5 * sqrt(K) (~170 * eps32 * sqrt(K)) relative to that magnitude
/// (plus |beta * C| for beta 1): far above rounding, far below any indexing mistake, which is off by about the
/// size of a whole entry (sqrt(K) / 3 here, the magnitude being about K / 4).
final class SmallGemmTests: XCTestCase {
    /// One product through the C kernels directly, columns [n0, n1) only (the rest of C and the padding past each
    /// row's width must stay untouched), checked against cblas dgemm.
    /// `packed`: op(B) (B as `nt` says) packed by lstmkit_pack_b, then lstmkit_sgemm_packed (n0 a multiple of 16),
    /// in the build `isa` names (0: the run-time choice, 1: AVX2, 2: AVX-512F).
    private func check(nt: Bool, packed: Bool = false, isa: Int = 0, m: Int, n: Int, k: Int, beta: Float, n0: Int = 0,
                       n1: Int? = nil, pad: Int = 3, seed: UInt64) throws {
        let n1 = n1 ?? n
        let (lda, ldb, ldc) = (k + pad, (nt ? k : n) + pad + 1, n + pad + 2)
        let a = randomValues(m * lda, seed: seed).map(Float.init)
        let b = randomValues((nt ? n : k) * ldb, seed: seed + 1).map(Float.init)
        // beta 0: C starts as NaN (must not be read); beta 1: values to add to.
        let c0: [Float] = beta == 0 ? Array(repeating: .nan, count: m * ldc) : randomValues(m * ldc, seed: seed + 2).map(Float.init)
        var c = c0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    if packed {
                        // The panels start as NaN: lstmkit_pack_b must write every one of them (padding included).
                        var bp = [Float](repeating: .nan, count: lstmkit_packed_b_count(k, n))
                        bp.withUnsafeMutableBufferPointer { lstmkit_pack_b(nt ? 1 : 0, k, n, 0, n, pb.baseAddress!, ldb, $0.baseAddress!) }
                        Self.packedBuild(isa)(m, n0, n1, k, pa.baseAddress!, lda, bp, beta, pc.baseAddress!, ldc)
                    } else {
                        (nt ? lstmkit_sgemm_small_nt : lstmkit_sgemm_small_nn)(
                            m, n0, n1, k, pa.baseAddress!, lda, pb.baseAddress!, ldb, beta, pc.baseAddress!, ldc)
                    }
                }
            }
        }
        // Reference: dgemm on the same float32 values, and the magnitude sum_p |a * b| (+ |beta * C|).
        let backend = CPUBackend<Double>()
        let (ba, bb, bc, bm) = (try backend.allocate(a.count), try backend.allocate(b.count),
                                try backend.allocate(m * ldc), try backend.allocate(m * ldc))
        try backend.write(a.map(Double.init), to: BufferView(ba))
        try backend.write(b.map(Double.init), to: BufferView(bb))
        try backend.write(c0.map { beta == 0 ? 0 : Double($0) }, to: BufferView(bc))
        try backend.write(c0.map { beta == 0 ? 0 : abs(Double($0)) }, to: BufferView(bm))
        try backend.gemm(transA: false, transB: nt, m: m, n: n, k: k, alpha: 1, a: BufferView(ba), lda: lda,
                         b: BufferView(bb), ldb: ldb, beta: Double(beta), c: BufferView(bc), ldc: ldc)
        try backend.write(a.map { abs(Double($0)) }, to: BufferView(ba))
        try backend.write(b.map { abs(Double($0)) }, to: BufferView(bb))
        try backend.gemm(transA: false, transB: nt, m: m, n: n, k: k, alpha: 1, a: BufferView(ba), lda: lda,
                         b: BufferView(bb), ldb: ldb, beta: Double(beta), c: BufferView(bm), ldc: ldc)
        let expected = try backend.readDoubles(BufferView(bc), count: m * ldc)
        let magnitude = try backend.readDoubles(BufferView(bm), count: m * ldc)

        let what = "\(packed ? "packed (build \(isa)) " : "")\(nt ? "NT" : "NN") m \(m) n \(n) [\(n0), \(n1)) k \(k) beta \(beta)"
        var bad: [String] = []
        for i in 0..<m {
            for j in 0..<ldc {
                let got = c[i * ldc + j], index = i * ldc + j
                if j >= n0 && j < n1 {
                    let tolerance = 1e-5 * Double(k).squareRoot() * magnitude[index] + 1e-30
                    if !(abs(Double(got) - expected[index]) <= tolerance) {
                        bad.append("C[\(i)][\(j)] = \(got), expected \(expected[index]) (tolerance \(tolerance))")
                    }
                } else if !(got.bitPattern == c0[index].bitPattern) {
                    bad.append("C[\(i)][\(j)] outside the columns written: \(got), was \(c0[index])")
                }
                if bad.count >= 5 { break }
            }
        }
        XCTAssert(bad.isEmpty, "\(what):\n  " + bad.joined(separator: "\n  "))
    }

    private func requireKernels() throws {
        try XCTSkipUnless(lstmkit_small_gemm_available() != 0, "CPU without AVX2 + FMA: CPUBackend uses cblas only")
    }

    /// lstmkit_sgemm_packed (0), or its AVX2 (1) or AVX-512F (2) build.
    private static func packedBuild(_ isa: Int) -> @convention(c) (Int, Int, Int, Int, UnsafePointer<Float>?, Int,
                                                                  UnsafePointer<Float>?, Float, UnsafeMutablePointer<Float>?, Int) -> Void {
        [lstmkit_sgemm_packed, lstmkit_sgemm_packed_avx2, lstmkit_sgemm_packed_avx512][isa]
    }

    /// The packed gemm's builds this CPU can run: AVX2, and AVX-512F where it has avx512f.
    private var packedBuilds: [Int] { lstmkit_small_gemm_avx512_available() != 0 ? [1, 2] : [1] }

    private func requireAVX512() throws {
        try requireKernels()
        try XCTSkipUnless(lstmkit_small_gemm_avx512_available() != 0,
                          "SKIPPED: this CPU has no AVX-512F, so the AVX-512F build of lstmkit_sgemm_packed is NOT tested here")
    }

    func testNTAgainstCBLAS() throws {
        try requireKernels()
        var seed: UInt64 = 1
        for m in [1, 3, 5, 16, 17, 32, 33] {
            for n in [1, 7, 130, 2048] {
                for k in [1, 9, 512] {
                    for beta: Float in [0, 1] {
                        try check(nt: true, m: m, n: n, k: k, beta: beta, seed: seed)
                        seed += 3
                    }
                }
            }
        }
    }

    func testNNAgainstCBLAS() throws {
        try requireKernels()
        var seed: UInt64 = 1000
        for m in [1, 5, 7, 16, 17, 32, 33] {
            for n in [1, 7, 9, 130, 2048] {
                for k in [1, 9, 512] {
                    for beta: Float in [0, 1] {
                        try check(nt: false, m: m, n: n, k: k, beta: beta, seed: seed)
                        seed += 3
                    }
                }
            }
        }
    }

    /// K = 0 (C = beta * C), long K (NN's K chunks of 256 with a partial last one), and column ranges as the
    /// two pool threads get them (and unaligned ones): only [n0, n1) changes.
    func testEdgesAndColumnRanges() throws {
        try requireKernels()
        for nt in [true, false] {
            try check(nt: nt, m: 3, n: 10, k: 0, beta: 0, seed: 1)
            try check(nt: nt, m: 3, n: 10, k: 0, beta: 1, seed: 2)
            try check(nt: nt, m: 16, n: 40, k: 2048 + 37, beta: 1, seed: 3)
            try check(nt: nt, m: 16, n: 2048, k: 512, beta: 0, n0: 0, n1: 1024, seed: 4)
            try check(nt: nt, m: 16, n: 2048, k: 512, beta: 1, n0: 1024, n1: 2048, seed: 5)
            try check(nt: nt, m: 7, n: 130, k: 33, beta: 1, n0: 5, n1: 123, seed: 6)
            try check(nt: nt, m: 7, n: 130, k: 33, beta: 0, n0: 64, n1: 64, seed: 7)
        }
    }

    /// The packed gemm over every row-tile edge (1-6 rows, then 6 + 1...), panel edges (N % 16), B as it lies
    /// in both layouts, K from 1 to past the L1, beta 0 and 1, and column ranges of whole panels as the pool
    /// threads get them (the last one ending at an edge).
    /// Each build (AVX2, and AVX-512F where the CPU has it: its 8 x 3-panel tiles and 1 x 8-panel rows for M = 1
    /// are covered by the row counts 1-9, 13, 17, 32, 64 and the N up to 130 = 8 panels + 2).
    func testPackedAgainstCBLAS() throws {
        try requireKernels()
        for isa in packedBuilds {
            var seed: UInt64 = 5000
            for m in [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17, 32, 64] {
                for n in [1, 15, 16, 17, 130] {
                    for k in [1, 9, 256, 1030] {
                        for nt in [true, false] {
                            try check(nt: nt, packed: true, isa: isa, m: m, n: n, k: k, beta: seed % 2 == 0 ? 0 : 1, seed: seed)
                            seed += 3
                        }
                    }
                }
            }
            for nt in [true, false] {
                try check(nt: nt, packed: true, isa: isa, m: 3, n: 10, k: 0, beta: 1, seed: 8)
                try check(nt: nt, packed: true, isa: isa, m: 16, n: 2048, k: 512, beta: 0, n0: 0, n1: 1024, seed: 9)
                try check(nt: nt, packed: true, isa: isa, m: 16, n: 2048, k: 512, beta: 1, n0: 1024, n1: 2048, seed: 10)
                try check(nt: nt, packed: true, isa: isa, m: 9, n: 130, k: 33, beta: 1, n0: 64, n1: 130, seed: 11)
                try check(nt: nt, packed: true, isa: isa, m: 9, n: 130, k: 33, beta: 0, n0: 16, n1: 64, seed: 12)
                try check(nt: nt, packed: true, isa: isa, m: 1, n: 1024, k: 256, beta: 0, n0: 512, n1: 1024, seed: 13)
            }
        }
    }

    /// The AVX-512F build gives exactly the AVX2 build's bits (each C entry is one FMA chain over k in order, then
    /// beta, in both): every row count to 13 (the tile edges of 8 rows and of 6) and 16, 32, 64; N below, at and
    /// past multiples of 16 and of the 3- and 8-panel groups; column ranges [n0, n1) as the pool threads get them
    /// (n0 a multiple of 16, n1 anywhere); K 0, 1, 7, 128, 256, 512; beta 0 (C starts as NaN: not read) and 1.
    /// Columns outside [n0, n1) must keep their bits in both.
    func testPackedAVX512BitsEqualAVX2() throws {
        try requireAVX512()
        var seed: UInt64 = 70_000, cases = 0
        for m in Array(1...13) + [16, 32, 64] {
            for (n, ranges) in [(1, [(0, 1)]), (15, [(0, 15)]), (16, [(0, 16)]), (40, [(0, 40), (16, 40), (0, 33)]),
                                (48, [(0, 48), (32, 48)]), (130, [(0, 130), (0, 64), (64, 130), (48, 121)]),
                                (512, [(0, 512), (256, 512)]), (1000, [(0, 1000), (496, 1000)])] {
                for k in [0, 1, 7, 128, 256, 512] where n * k * m <= 64 * 512 * 512 {
                    for beta: Float in [0, 1] {
                        for (n0, n1) in ranges {
                            try assertSameBits(m: m, n: n, k: k, beta: beta, n0: n0, n1: n1, nt: seed % 2 == 0, seed: seed)
                            seed += 3
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(cases, 1500)
    }

    private func assertSameBits(m: Int, n: Int, k: Int, beta: Float, n0: Int, n1: Int, nt: Bool, seed: UInt64) throws {
        let (lda, ldb, ldc) = (k + 3, (nt ? k : n) + 1, n + 5)
        let a = randomValues(m * lda, seed: seed).map(Float.init)
        let b = randomValues((nt ? n : k) * ldb, seed: seed + 1).map(Float.init)
        let c0: [Float] = beta == 0 ? Array(repeating: .nan, count: m * ldc) : randomValues(m * ldc, seed: seed + 2).map(Float.init)
        var bp = [Float](repeating: .nan, count: lstmkit_packed_b_count(k, n))
        lstmkit_pack_b(nt ? 1 : 0, k, n, 0, n, b, ldb, &bp)
        var results: [[Float]] = []
        for isa in [1, 2] {
            var c = c0
            Self.packedBuild(isa)(m, n0, n1, k, a, lda, bp, beta, &c, ldc)
            results.append(c)
        }
        var bad: [String] = []
        for i in 0..<m {
            for j in 0..<ldc where bad.count < 5 {
                let (x, y, index) = (results[0][i * ldc + j], results[1][i * ldc + j], i * ldc + j)
                if x.bitPattern != y.bitPattern { bad.append("C[\(i)][\(j)]: AVX2 \(x) (0x\(String(x.bitPattern, radix: 16))), AVX-512F \(y) (0x\(String(y.bitPattern, radix: 16)))") }
                if !(j >= n0 && j < n1) && y.bitPattern != c0[index].bitPattern { bad.append("C[\(i)][\(j)] outside [n0, n1) written: \(y)") }
                if j >= n0 && j < n1 && y.isNaN { bad.append("C[\(i)][\(j)] is NaN (C read with beta 0, or not written)") }
            }
        }
        XCTAssert(bad.isEmpty, "m \(m) n \(n) [\(n0), \(n1)) k \(k) beta \(beta) nt \(nt):\n  " + bad.joined(separator: "\n  "))
    }

    /// lstmkit_small_gemm_set_isa (LSTMKIT_CPU_ISA's cap) picks the build lstmkit_sgemm_packed runs: avx2 (and
    /// baseline, which has no build of its own) AVX2, avx512f the best the CPU has; the dispatcher then gives that
    /// build's bits.
    func testPackedISACap() throws {
        try requireKernels()
        let before = lstmkit_small_gemm_isa()
        defer { _ = lstmkit_small_gemm_set_isa(Int32(before)) }
        let best: Int32 = lstmkit_small_gemm_avx512_available() != 0 ? 2 : 1
        XCTAssertEqual(lstmkit_small_gemm_set_isa(0), 1)
        XCTAssertEqual(lstmkit_small_gemm_isa(), 1)
        XCTAssertEqual(lstmkit_small_gemm_set_isa(1), 1)
        XCTAssertEqual(lstmkit_small_gemm_set_isa(2), best)
        XCTAssertEqual(lstmkit_small_gemm_isa(), best)
        // Through the dispatcher, against the build it names, for each cap.
        let (m, n, k) = (5, 70, 33)
        let a = randomValues(m * k, seed: 31).map(Float.init), b = randomValues(n * k, seed: 32).map(Float.init)
        var bp = [Float](repeating: .nan, count: lstmkit_packed_b_count(k, n))
        lstmkit_pack_b(1, k, n, 0, n, b, k, &bp)
        for cap: Int32 in [1, 2] {
            let isa = Int(lstmkit_small_gemm_set_isa(cap))
            var viaDispatch = [Float](repeating: .nan, count: m * n), direct = viaDispatch
            lstmkit_sgemm_packed(m, 0, n, k, a, k, bp, 0, &viaDispatch, n)
            Self.packedBuild(isa)(m, 0, n, k, a, k, bp, 0, &direct, n)
            XCTAssertEqual(viaDispatch.map(\.bitPattern), direct.map(\.bitPattern), "cap \(cap)")
        }
    }

    /// StepOperand on CPUBackend<Float> (packed once, then gemmPacked split over the pool threads by rows when
    /// op(B) fits in 512 KB and M >= 32, else by panels) against CPUBackend<Double>.gemm, with leading dimensions
    /// past the widths, offsets into the buffers, and two products from one packing (as the time loop does).
    func testStepOperandMatchesFloat64() throws {
        try requireKernels()
        XCTAssertNotNil(CPUBackend<Float>().packedOperandCount(k: 8, n: 8), "CPUBackend<Float> with AVX2 + FMA packs")
        XCTAssertNil(CPUBackend<Double>().packedOperandCount(k: 8, n: 8), "CPUBackend<Double> has no packed gemm")
        // (32, 512, 128): rows; (64, 1024, 256), (16, 2048, 512): panels; (33, 130, 512): rows, an edge panel.
        let shapes: [(m: Int, n: Int, k: Int)] = [(32, 512, 128), (64, 1024, 256), (16, 2048, 512), (33, 130, 512), (3, 20, 7)]
        var seed: UInt64 = 900
        for (m, n, k) in shapes {
            for transB in [true, false] {
                let results = try onBothBackends(m: m, n: n, k: k, transB: transB, aRows: 2 * m, seed: seed) { backend, a, b, c, ld in
                    let step = try StepOperand(backend, b: b, transB: transB, k: k, n: n, ldb: ld.ldb) { try backend.allocate($0) }
                    XCTAssertEqual(step.packed != nil, backend.precision == .float32)
                    // C = A0 . op(B), then C += A1 . op(B).
                    try step.gemm(backend, m: m, a: a, lda: ld.lda, beta: 0, c: c, ldc: ld.ldc)
                    try step.gemm(backend, m: m, a: a.advanced(by: m * ld.lda), lda: ld.lda, beta: 1, c: c, ldc: ld.ldc)
                }
                seed += 3
                // Entries are sums of 2k products of values in [-1, 1); see the class comment.
                assertClose(results.single, results.double, atol: 1e-5 * Double(2 * k).squareRoot() * Double(2 * k) / 4,
                            "StepOperand m \(m) n \(n) k \(k) transB \(transB)")
            }
        }
    }

    /// CPUBackend<Float>.gemm (which takes the small kernels for these shapes, split over the pool threads)
    /// against CPUBackend<Double>.gemm, with leading dimensions past the widths and offsets into the buffers.
    func testCPUBackendGemmMatchesFloat64() throws {
        let shapes: [(m: Int, n: Int, k: Int)] = [(16, 2048, 512), (32, 512, 128), (17, 130, 512), (1, 7, 200),
                                                  (16, 512, 2048), (32, 128, 512), (33, 2048, 512), (5, 1024, 9)]
        var seed: UInt64 = 77
        for (m, n, k) in shapes {
            for transB in [true, false] {
                for beta in [0.0, 1.0] {
                    let results = try onBothBackends(m: m, n: n, k: k, transB: transB, aRows: m, seed: seed) { backend, a, b, c, ld in
                        try backend.gemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: ld.lda,
                                         b: b, ldb: ld.ldb, beta: beta, c: c, ldc: ld.ldc)
                    }
                    seed += 3
                    // Entries are sums of k products of values in [-1, 1): magnitude <= k (+1); see the class comment.
                    assertClose(results.single, results.double, atol: 1e-5 * Double(k).squareRoot() * Double(k + 1) / 4,
                                "gemm m \(m) n \(n) k \(k) transB \(transB) beta \(beta)")
                }
            }
        }
    }

    /// Leading dimensions (past the widths) and the offset into each buffer that the backend tests use.
    private typealias Layout = (lda: Int, ldb: Int, ldc: Int, offset: Int)

    /// Runs `body` on CPUBackend<Float> and CPUBackend<Double> with the same random A (`aRows` rows), B
    /// (op(B) [K, N]) and C, each at `offset` in its buffer, and returns C (the whole buffer) from each.
    private func onBothBackends(m: Int, n: Int, k: Int, transB: Bool, aRows: Int, seed: UInt64,
                                _ body: (any Backend, _ a: BufferView, _ b: BufferView, _ c: BufferView, Layout) throws -> Void)
        throws -> (single: [Double], double: [Double]) {
        let layout: Layout = (k + 5, (transB ? k : n) + 3, n + 1, 11)
        let a = randomValues(layout.offset + aRows * layout.lda, seed: seed).map { Double(Float($0)) }
        let b = randomValues(layout.offset + (transB ? n : k) * layout.ldb, seed: seed + 1).map { Double(Float($0)) }
        let c = randomValues(layout.offset + m * layout.ldc, seed: seed + 2).map { Double(Float($0)) }
        var results: [[Double]] = []
        for backend in [CPUBackend<Float>() as any Backend, CPUBackend<Double>() as any Backend] {
            let (ba, bb, bc) = (try backend.allocate(a.count), try backend.allocate(b.count), try backend.allocate(c.count))
            try backend.write(a, to: BufferView(ba))
            try backend.write(b, to: BufferView(bb))
            try backend.write(c, to: BufferView(bc))
            try body(backend, BufferView(ba, layout.offset), BufferView(bb, layout.offset), BufferView(bc, layout.offset), layout)
            results.append(try backend.readDoubles(BufferView(bc), count: c.count))
        }
        return (results[0], results[1])
    }
}
