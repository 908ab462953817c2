/// The B operand of a product made at every time step, prepared once per pass.
///
/// The recurrent weight is the same at every step: forward r = h . W_hh^T (op(B) = W_hh^T, [K = R, N = 4H]),
/// backward dh += dG . W_hh (op(B) = W_hh, [K = 4H, N = R]). A backend with a packed gemm (the CPU in Float32:
/// panels of 16 columns, Sources/CSmallGemm) gets op(B) packed here once, and each step's product then reads
/// the panels without packing again; any other backend gets plain `gemm` calls on B as it lies.
struct StepOperand {
    let b: BufferView, transB: Bool, ldb: Int, k: Int, n: Int
    /// op(B) packed by the backend, or nil: `gemm` on b.
    let packed: DeviceBuffer?

    /// - Parameters: op(B) [K, N] (B [N, K] when transB, else [K, N], leading dimension ldb). `scratch` returns
    ///   a buffer of at least the given count (the layer's workspace), called only when the backend packs.
    init(_ backend: Backend, b: BufferView, transB: Bool, k: Int, n: Int, ldb: Int, scratch: (Int) throws -> DeviceBuffer) throws {
        (self.b, self.transB, self.ldb, self.k, self.n) = (b, transB, ldb, k, n)
        if let count = backend.packedOperandCount(k: k, n: n) {
            let buffer = try scratch(count)
            try backend.packOperand(transB: transB, k: k, n: n, b: b, ldb: ldb, into: buffer)
            packed = buffer
        } else {
            packed = nil
        }
    }

    /// C[M, N] = beta * C + A[M, K] . op(B).
    func gemm(_ backend: Backend, m: Int, a: BufferView, lda: Int, beta: Double, c: BufferView, ldc: Int) throws {
        if let packed {
            try backend.gemmPacked(m: m, n: n, k: k, a: a, lda: lda, packed: packed, beta: beta, c: c, ldc: ldc)
        } else {
            try backend.gemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                             b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }
}
