import CBLAS
import Foundation

/// A scalar the CPU backend computes in: Float (as OpenCL) or Double (for gradient checks).
protocol CPUScalar: BinaryFloatingPoint, Sendable {
    /// Row-major cblas gemm (sgemm / dgemm).
    static func cblasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                          a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                          beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exp(_ x: Self) -> Self
    static var precision: Precision { get }
}

extension Float: CPUScalar {
    static func cblasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    static var precision: Precision { .float32 }
}

extension Double: CPUScalar {
    static func cblasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                          a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                          beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    static var precision: Precision { .float64 }
}

/// Sigmoid and tanh in the same exp-based forms as Kernels/lstm_cell.cl, so both devices round alike.
@inline(__always) func lstmkitSigmoid<S: CPUScalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }
@inline(__always) func lstmkitTanh<S: CPUScalar>(_ x: S) -> S {
    let e = S.exp(2 * Swift.abs(x))
    let t = 1 - 2 / (e + 1)
    return x < 0 ? -t : t
}

/// The dropout mask hash of Kernels/elementwise.cl, bit for bit.
@inline(__always) func lstmkitHash(_ seed: UInt32, _ i: UInt32) -> UInt32 {
    var x = (i &* 0x9E37_79B9) ^ seed
    x ^= x >> 16; x = x &* 0x7FEB_352D
    x ^= x >> 15; x = x &* 0x846C_A68B
    x ^= x >> 16
    return x
}
