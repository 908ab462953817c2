import CSmallGemm
import Foundation
import XCTest
@testable import LSTMKit

/// CPUBackend<Float>.gemm's route for big products with A not transposed (`gemmPackingB`: op(B) packed, then
/// blocks of 96 rows through lstmkit_sgemm_packed on the pool's threads) against CPUBackend<Double>.gemm (cblas
/// dgemm) on the same float32 values.
///
/// Tolerance: as SmallGemmTests, each entry is a float32 sum of K products in another order than the reference:
/// rounding only, about eps32 * sqrt(K) * sum_p |A[i][p] * B[p][j]|. 1e-5 * sqrt(K) of that magnitude (plus
/// |beta * C|) is ~170x above rounding and far below a wrong row, column or panel (off by a whole entry).
final class CPUBackendGemmTests: XCTestCase {
    private func check(transA: Bool = false, transB: Bool, m: Int, n: Int, k: Int, beta: Double, seed: UInt64) throws {
        let lda = (transA ? m : k) + 5, ldb = (transB ? k : n) + 3, ldc = n + 7
        let a = randomValues((transA ? k : m) * lda, seed: seed).map(Float.init)
        let b = randomValues((transB ? n : k) * ldb, seed: seed + 1).map(Float.init)
        let c0 = randomValues(m * ldc, seed: seed + 2).map(Float.init)
        func run<S: CPUScalar>(_ backend: CPUBackend<S>, _ a: [Double], _ b: [Double], _ c: [Double]) throws -> [Double] {
            let (ba, bb, bc) = (try backend.allocate(a.count), try backend.allocate(b.count), try backend.allocate(c.count))
            try backend.write(a, to: BufferView(ba)); try backend.write(b, to: BufferView(bb)); try backend.write(c, to: BufferView(bc))
            try backend.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: BufferView(ba), lda: lda,
                             b: BufferView(bb), ldb: ldb, beta: beta, c: BufferView(bc), ldc: ldc)
            return try backend.readDoubles(BufferView(bc), count: c.count)
        }
        let (ad, bd, cd) = (a.map(Double.init), b.map(Double.init), c0.map(Double.init))
        // beta 0: C starts as NaN in float32 (must not be read).
        let got = try run(CPUBackend<Float>(), ad, bd, beta == 0 ? cd.map { _ in .nan } : cd)
        let want = try run(CPUBackend<Double>(), ad, bd, cd)
        let magnitude = try run(CPUBackend<Double>(), ad.map(abs), bd.map(abs), cd.map(abs))
        var bad: [String] = []
        for i in 0..<m {
            for j in 0..<ldc where bad.count < 5 {
                let index = i * ldc + j
                if j < n {
                    let tolerance = 1e-5 * Double(k).squareRoot() * magnitude[index] + 1e-30
                    if !(abs(got[index] - want[index]) <= tolerance) { bad.append("C[\(i)][\(j)] = \(got[index]), expected \(want[index])") }
                } else if beta != 0, got[index] != cd[index] {
                    bad.append("C[\(i)][\(j)] past the row's width changed: \(got[index]), was \(cd[index])")
                }
            }
        }
        XCTAssert(bad.isEmpty, "\(transA ? "T" : "N")\(transB ? "T" : "N") m \(m) n \(n) k \(k) beta \(beta):\n  " + bad.joined(separator: "\n  "))
    }

    /// Shapes over the split minimum (M N K >= 1e6) with M over 32: row blocks with a short last one, N with a
    /// partial last panel, K from 16 to 1024 (a panel of K x 16 floats in L1 and past it).
    func testBigProductsMatchDgemm() throws {
        try XCTSkipUnless(lstmkit_packed_big_products() != 0 && CPUKernels.largePackedGemm,
                          "NO PACKED BIG PRODUCTS ON THIS CPU (AVX2 only, Zen 4, or LSTMKIT_CPU_PACKED_GEMM=0): they run cblas, nothing to test here")
        var seed: UInt64 = 100
        for (m, n, k) in [(400, 512, 32), (300, 1024, 256), (97, 1000, 300), (193, 2051, 16), (33, 600, 1024), (500, 17, 700)] {
            for transB in [true, false] {
                for beta in [0.0, 1.0] {
                    try check(transB: transB, m: m, n: n, k: k, beta: beta, seed: seed)
                    seed += 3
                }
            }
        }
    }

    /// The weight-gradient form, A transposed (dW [4H, I] = dG^T [4H, T B] . X [T B, I]): A read through its
    /// strides, K in chunks of 512 (K = 1300: two whole chunks and a short one) with beta 1 after the first.
    func testTransposedAMatchesDgemm() throws {
        try XCTSkipUnless(lstmkit_packed_big_products() != 0 && CPUKernels.largePackedGemm, "NO PACKED BIG PRODUCTS ON THIS CPU (AVX2 only, Zen 4, or LSTMKIT_CPU_PACKED_GEMM=0)")
        var seed: UInt64 = 500
        for (m, n, k) in [(256, 96, 1300), (41, 200, 600), (130, 33, 512)] {
            for transB in [false, true] {
                for beta in [0.0, 1.0] {
                    try check(transA: true, transB: transB, m: m, n: n, k: k, beta: beta, seed: seed)
                    seed += 3
                }
            }
        }
    }

    /// The strided packed gemm (the route's kernel) gives the same bits in its AVX2 and AVX-512F builds, A as it lies
    /// and transposed: each entry is the same FMA chain over k in both. (The route itself runs only the AVX-512F build;
    /// an AVX2-only CPU sends these products to cblas.)
    func testStridedPackedBuildsGiveTheSameBits() throws {
        try XCTSkipUnless(lstmkit_small_gemm_avx512_available() != 0, "CPU WITHOUT AVX-512F: one build only, nothing to compare")
        let previous = lstmkit_small_gemm_isa()
        defer { _ = lstmkit_small_gemm_set_isa(previous) }
        for (transA, m, n, k, beta) in [(false, 37, 300, 700, Float(0)), (true, 150, 90, 513, 1), (true, 9, 129, 64, 0), (false, 1, 40, 33, 1)] {
            let a = randomValues(m * k, seed: 7).map(Float.init), b = randomValues(k * n, seed: 8).map(Float.init)
            let c0 = randomValues(m * n, seed: 9).map(Float.init)
            var packed = [Float](repeating: .nan, count: lstmkit_packed_b_count(k, n))
            lstmkit_pack_b(0, k, n, 0, n, b, n, &packed)
            var results: [[UInt32]] = []
            for isa: Int32 in [1, 2] {
                XCTAssertEqual(lstmkit_small_gemm_set_isa(isa), isa)
                var c = c0
                let (ars, acs) = transA ? (1, m) : (k, 1)
                lstmkit_sgemm_packed_strided(m, 0, n, k, a, ars, acs, packed, beta, &c, n)
                results.append(c.map(\.bitPattern))
            }
            let differ = zip(results[0], results[1]).filter { $0 != $1 }.count
            XCTAssertEqual(differ, 0, "transA \(transA) \(m)x\(n)x\(k) beta \(beta): \(differ) entries differ between AVX2 and AVX-512F")
        }
    }

    /// The route is taken: the profile names it (so the test above checks the packed kernel, not cblas).
    func testBigProductsTakeThePackedRoute() throws {
        try XCTSkipUnless(lstmkit_packed_big_products() != 0 && CPUKernels.largePackedGemm, "NO PACKED BIG PRODUCTS ON THIS CPU (AVX2 only, Zen 4, or LSTMKIT_CPU_PACKED_GEMM=0)")
        let backend = CPUBackend<Float>()
        let (a, b, c) = (try backend.allocate(200 * 300), try backend.allocate(300 * 400), try backend.allocate(200 * 400))
        try backend.setProfiling(true)
        try backend.gemm(transA: false, transB: true, m: 200, n: 400, k: 300, alpha: 1, a: BufferView(a), lda: 300,
                         b: BufferView(b), ldb: 300, beta: 0, c: BufferView(c), ldc: 400)
        XCTAssertEqual(try backend.takeProfile().map(\.label), ["gemm_NT_packed"])
    }
}
