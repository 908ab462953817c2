/// The B operand of a product made at every time step, prepared once per pass.
///
/// The recurrent weight is the same at every step: forward r = h . W_hh^T (op(B) = W_hh^T, [K = R, N = 4H]),
/// backward dh += dG . W_hh (op(B) = W_hh, [K = 4H, N = R]). Prepared for the backend once, here:
/// - a backend with a packed gemm (`Backend.packedGemm`; the CPU in Float32: panels of 16 columns, Sources/CSmallGemm) gets op(B)
///   packed, and each step's product reads the panels without packing again (unless `packs` is false: the
///   input projection, one product over all steps, which cblas runs at its best);
/// - a backend whose NN gemm is its fast one (`prefersNNGemm`: OpenCL on PoCL) gets a transposed B [K, N]
///   in place of an NT product;
/// - any other gets plain `gemm` calls on B as it lies.
struct StepOperand {
    let b: BufferView, transB: Bool, ldb: Int, k: Int, n: Int
    /// op(B) packed by the backend, or nil: `gemm` on b.
    let packed: DeviceBuffer?
    private let packer: PackedGemmBackend?

    /// - Parameters: op(B) [K, N] (B [N, K] when transB, else [K, N], leading dimension ldb). `packs`: false
    ///   keeps B unpacked (it may still be transposed). `scratch` returns a buffer of at least the given count
    ///   (the layer's workspace), called only when B is packed or transposed.
    init(_ backend: Backend, b: BufferView, transB: Bool, k: Int, n: Int, ldb: Int, packs: Bool = true,
         scratch: (Int) throws -> DeviceBuffer) throws {
        (self.k, self.n) = (k, n)
        if packs, let packer = backend.packedGemm, let count = packer.packedOperandCount(k: k, n: n) {
            let buffer = try scratch(count)
            try packer.packOperand(transB: transB, k: k, n: n, b: b, ldb: ldb, into: buffer)
            (self.b, self.transB, self.ldb, packed, self.packer) = (b, transB, ldb, buffer, packer)
        } else if transB, ldb == k, backend.prefersNNGemm {
            let t = try scratch(n * k)
            try backend.transpose01(d0: n, d1: k, features: 1, src: b, dst: BufferView(t))
            (self.b, self.transB, self.ldb, packed, packer) = (BufferView(t), false, n, nil, nil)
        } else {
            (self.b, self.transB, self.ldb, packed, packer) = (b, transB, ldb, nil, nil)
        }
    }

    /// C[M, N] = beta * C + A[M, K] . op(B).
    func gemm(_ backend: Backend, m: Int, a: BufferView, lda: Int, beta: Double, c: BufferView, ldc: Int) throws {
        if let packed, let packer {
            try packer.gemmPacked(m: m, n: n, k: k, a: a, lda: lda, packed: packed, beta: beta, c: c, ldc: ldc)
        } else {
            try backend.gemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                             b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }
}
