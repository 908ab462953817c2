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

/// Kernels/common.cl `lstmkit_act`: the activation of kind (`Activation.kernelKind`) 0 linear, 1 relu, 2 tanh,
/// 3 sigmoid, 9 hard_sigmoid (Keras: relu6(x + 3) / 6), 10 elu, 11 selu, 12 softplus, 13 gelu (erf form).
@inline(__always) func lstmkitActivation<S: CPUScalar>(_ kind: Int, _ x: S) -> S {
    switch kind {
    case 2: return lstmkitTanh(x)
    case 3: return lstmkitSigmoid(x)
    case 1: return x > 0 ? x : 0
    case 9: return Swift.min(Swift.max(x + 3, 0), 6) / 6
    case 10: return x > 0 ? x : S.exp(x) - 1  // elu (alpha 1)
    case 11: return S(1.0507009873554805) * (x > 0 ? x : S(1.6732632423543772) * (S.exp(x) - 1))  // selu
    case 12: return Swift.max(x, 0) + S(Foundation.log1p(Double(S.exp(-Swift.abs(x)))))  // softplus
    case 13: return S(0.5) * x * (1 + S(Foundation.erf(Double(x) * 0.7071067811865476)))  // gelu (erf)
    default: return x
    }
}
/// Kernels/common.cl `lstmkit_act_grad`: the derivative from the output y.
@inline(__always) func lstmkitActivationGrad<S: CPUScalar>(_ kind: Int, _ y: S) -> S {
    switch kind {
    case 2: return 1 - y * y
    case 3: return y * (1 - y)
    case 1: return y > 0 ? 1 : 0
    case 9: return y > 0 && y < 1 ? 1 / 6 : 0
    case 10: return y > 0 ? 1 : y + 1
    case 11: return y >= 0 ? S(1.0507009873554805) : y + S(1.0507009873554805 * 1.6732632423543772)
    case 12: return 1 - S.exp(-y)
    // gelu (kind 13) is no function of y: the caller passes the pre-activation x in y's place.
    case 13: return S(0.5) * (1 + S(Foundation.erf(Double(y) * 0.7071067811865476))) + y * S(0.3989422804014327) * S.exp(-y * y / 2)
    default: return 1
    }
}
/// Kernels/common.cl `lstmkit_act_back`: u times the derivative, in the cells' forms.
@inline(__always) func lstmkitActivationBack<S: CPUScalar>(_ kind: Int, _ u: S, _ y: S) -> S {
    switch kind {
    case 3: return u * y * (1 - y)
    case 2: return u * (1 - y * y)
    default: return u * lstmkitActivationGrad(kind, y)
    }
}

/// The dropout mask hash of Kernels/elementwise.cl, bit for bit.
@inline(__always) func lstmkitHash(_ seed: UInt32, _ i: UInt32) -> UInt32 {
    var x = (i &* 0x9E37_79B9) ^ seed
    x ^= x >> 16; x = x &* 0x7FEB_352D
    x ^= x >> 15; x = x &* 0x846C_A68B
    x ^= x >> 16
    return x
}
