/// A backend's packed gemm for the per-step products (CPU in Float32 with AVX-512F or AVX2 + FMA: Sources/CSmallGemm): op(B)
/// is packed once per pass and every step reads the panels. Only a backend that has one conforms, and says so
/// through `Backend.packedGemm`; StepOperand uses it.
protocol PackedGemmBackend: AnyObject {
    /// Floats that `packOperand` needs for op(B) [K, N], or nil when it cannot pack (Float64, no AVX2 + FMA, or
    /// LSTMKIT_CPU_SMALL_GEMM=0): callers then use `gemm`.
    func packedOperandCount(k: Int, n: Int) -> Int?
    /// Packs op(B) [K, N] (B [N, K] when transB, else [K, N]; leading dimension ldb) into `into` for `gemmPacked`.
    func packOperand(transB: Bool, k: Int, n: Int, b: BufferView, ldb: Int, into: DeviceBuffer) throws
    /// C[M, N] = beta * C + A[M, K] . op(B), op(B) [K, N] packed by `packOperand`.
    func gemmPacked(m: Int, n: Int, k: Int, a: BufferView, lda: Int, packed: DeviceBuffer, beta: Double, c: BufferView, ldc: Int) throws
}
