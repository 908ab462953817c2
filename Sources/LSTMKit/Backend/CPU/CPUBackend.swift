import CBLAS
import CSmallGemm
import Dispatch
import Foundation
import Synchronization

/// Host memory of one CPU backend, `count` scalars of type S (or Int32 indices), 64-byte aligned (the AVX-512
/// cell kernels run on it). The byte count is checked for overflow and against the host's memory
/// (`Memory.reserveHost`) before `posix_memalign`; a refusal or a failed allocation is `LSTMKitError.outOfMemory`.
final class CPUBuffer<S>: DeviceBuffer, @unchecked Sendable {
    let pointer: UnsafeMutablePointer<S>
    let count: Int
    private let bytes: Int
    init(count: Int) throws {
        let bytes = try Memory.bytes(count: max(count, 1), elementSize: MemoryLayout<S>.stride, device: "cpu")
        try Memory.reserveHost(bytes, device: "cpu")
        var raw: UnsafeMutableRawPointer? = nil
        let status = posix_memalign(&raw, 64, bytes)
        guard status == 0, let raw else {
            Memory.releaseHost(bytes)
            throw LSTMKitError.outOfMemory(bytes: bytes, device: "cpu", reason: "posix_memalign failed: \(String(cString: strerror(status)))")
        }
        self.count = count
        self.bytes = bytes
        pointer = raw.bindMemory(to: S.self, capacity: max(count, 1))
    }
    deinit {
        free(pointer)
        Memory.releaseHost(bytes)
    }
}

/// The CPU path: cblas gemm (OpenBLAS, split over the cores by `CPUWorkerPool`) and the twins in CPUKernels.
final class CPUBackend<S: CPUScalar>: Backend, PackedGemmBackend, @unchecked Sendable {
    var precision: Precision { S.precision }
    /// cblas runs NN and NT alike: nothing to transpose.
    var prefersNNGemm: Bool { false }
    /// Float32 with AVX-512F or AVX2 + FMA (Sources/CSmallGemm), unless LSTMKIT_CPU_SMALL_GEMM=0; Float64: none.
    var packedGemm: PackedGemmBackend? { packedOperandCount(k: 1, n: 1) != nil ? self : nil }
    var openCLTuning: OpenCLTuning? { nil }

    /// Opt-in profiling (lstm-bench): wall time per primitive while on; nil (one test per call) while off.
    private var profile: [String: (launches: Int, seconds: Double)]? = nil
    private let profileLock = NSLock()
    /// op(B) packed for `gemmPackingB` (Float32 only), kept for the next product.
    private var packScratch: CPUBuffer<Float>? = nil
    private let packScratchLock = NSLock()

    /// The C libraries get their LSTMKIT_CPU_ISA/_PREFETCH/_SMALL_GEMM values before the first kernel (Settings.swift).
    init() { _ = Settings.applyToC }

    func setProfiling(_ enabled: Bool) throws {
        profileLock.lock(); defer { profileLock.unlock() }
        profile = enabled ? (profile ?? [:]) : nil
    }
    func takeProfile() throws -> [(label: String, launches: Int, seconds: Double)] {
        profileLock.lock(); defer { profileLock.unlock() }
        guard let p = profile else { return [] }
        profile = [:]
        return p.map { ($0.key, $0.value.launches, $0.value.seconds) }.sorted { $0.seconds > $1.seconds }
    }
    /// Runs `body`, and when profiling is on adds its wall time under `label`.
    @inline(__always) func timed(_ label: @autoclosure () -> String, _ body: () -> Void) {
        if profile == nil { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        profileLock.lock(); defer { profileLock.unlock() }
        let key = label()
        let old = profile?[key] ?? (0, 0)
        profile?[key] = (old.launches + 1, old.seconds + seconds)
    }

    func ptr(_ v: BufferView) -> UnsafeMutablePointer<S> {
        (v.buffer as! CPUBuffer<S>).pointer + v.offset
    }
    /// The Float32 kernels' view of a pointer (only called when S is Float).
    private func floats(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    func lengths(_ b: DeviceBuffer) -> UnsafePointer<Int32> { UnsafePointer(indices(b)) }
    private func indices(_ b: DeviceBuffer) -> UnsafeMutablePointer<Int32> {
        (b as! CPUBuffer<Int32>).pointer
    }

    func allocate(_ count: Int) throws -> DeviceBuffer { try CPUBuffer<S>(count: count) }

    func allocateIndices(_ values: [Int32]) throws -> DeviceBuffer {
        let buffer = try CPUBuffer<Int32>(count: values.count)
        values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
        return buffer
    }

    // Same-type transfers are one copy: the element loops' generic conversions are not specialised in this generic
    // class (called through `Backend`) and cost tens of ns an element.
    func write(_ values: [Float], to view: BufferView) throws {
        let p = ptr(view)
        if S.self == Float.self { return values.withUnsafeBufferPointer { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: $0.count * 4) } }
        for (i, v) in values.enumerated() { p[i] = S(v) }
    }
    func write(_ values: [Double], to view: BufferView) throws {
        let p = ptr(view)
        if S.self == Double.self { return values.withUnsafeBufferPointer { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: $0.count * 8) } }
        for (i, v) in values.enumerated() { p[i] = S(v) }
    }
    func readFloats(_ view: BufferView, count: Int) throws -> [Float] {
        let p = ptr(view)
        if S.self == Float.self { return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: Float.self), count: count)) }
        return (0..<count).map { Float(p[$0]) }
    }
    func readDoubles(_ view: BufferView, count: Int) throws -> [Double] {
        let p = ptr(view)
        if S.self == Double.self { return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: Double.self), count: count)) }
        return (0..<count).map { Double(p[$0]) }
    }
    func copy(_ src: BufferView, to dst: BufferView, count: Int) throws {
        timed("copy") { ptr(dst).update(from: ptr(src), count: count) }
    }

    /// C = alpha * op(A) . op(B) + beta * C: cblas (OpenBLAS), split over the pool threads when big enough.
    ///
    /// Big Float32 products (M > 32, M N K over the split minimum, alpha 1, beta 0 or 1) run CSmallGemm's packed
    /// kernel instead (`gemmPackingB`) where its AVX-512F build runs at full width (lstmkit_packed_big_products: not
    /// on AVX2-only CPUs nor on Zen 4, where the tile has AVX2 throughput and OpenBLAS was faster on the weight
    /// gradients); LSTMKIT_CPU_PACKED_GEMM=0 turns it off. On Zen 5, 1.8x OpenBLAS's Haswell kernels and 1.15x
    /// its SkylakeX ones (docs/decisions/0026-packed-big-products.md).
    /// Float32 products with a small M and A not transposed run CSmallGemm's AVX2/FMA small-M kernels instead,
    /// when the CPU has those: they read B where it lies, where OpenBLAS packs all of it on every call (preset D,
    /// two threads: NT 1.4x, NN 1.2x faster; docs/decisions/0005-small-m-cpu-gemm.md). Only for alpha 1,
    /// beta 0 or 1, M <= 32 (at 64 no faster) and K >= 128 (slower at small K); LSTMKIT_CPU_SMALL_GEMM=0 turns it
    /// off. Float64: cblas. (The time loop's recurrent products take `gemmPacked` through StepOperand instead.)
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
              a: BufferView, lda: Int, b: BufferView, ldb: Int, beta: Double, c: BufferView, ldc: Int) throws {
        if m == 0 || n == 0 { return }
        let small = S.self == Float.self && !transA && alpha == 1 && (beta == 0 || beta == 1) && m <= 32 && k >= 128
            && lstmkit_small_gemm_enabled() != 0
        /// One m x n part of the product, the pointers already advanced to it.
        func gemmPart(m: Int, n: Int, _ pa: UnsafeMutablePointer<S>, _ pb: UnsafeMutablePointer<S>, _ pc: UnsafeMutablePointer<S>) {
            guard small else {
                return S.cblasGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: S(alpha),
                                   a: pa, lda: lda, b: pb, ldb: ldb, beta: S(beta), c: pc, ldc: ldc)
            }
            if transB { lstmkit_sgemm_small_nt(m, 0, n, k, floats(pa), lda, floats(pb), ldb, Float(beta), floats(pc), ldc) }
            else { lstmkit_sgemm_small_nn(m, 0, n, k, floats(pa), lda, floats(pb), ldb, Float(beta), floats(pc), ldc) }
        }
        if S.self == Float.self, alpha == 1, beta == 0 || beta == 1, m > 32, m * n * k >= CPUKernels.gemmSplitMinimum,
           CPUKernels.largePackedGemm, lstmkit_packed_big_products() != 0 {
            var failure: Error? = nil
            timed("gemm_" + (transA ? "T" : "N") + (transB ? "T" : "N") + "_packed") {
                do {
                    try gemmPackingB(transA: transA, transB: transB, m: m, n: n, k: k, a: floats(ptr(a)), lda: lda,
                                     b: floats(ptr(b)), ldb: ldb, beta: Float(beta), c: floats(ptr(c)), ldc: ldc)
                } catch { failure = error }
            }
            if let failure { throw failure }
            return
        }
        timed("gemm_" + (transA ? "T" : "N") + (transB ? "T" : "N")) {
            let (pa, pb, pc) = (ptr(a), ptr(b), ptr(c))
            let pool = CPUWorkerPool.shared
            // Big enough to split: one single-threaded call per thread, at multiples of 16, by rows when
            // `splitsByRows`, else along the dimension whose operand is the bigger one (each thread then reads
            // only its part of it).
            let splitN = splitsByRows(m: m, n: n, k: k) ? false : n >= m
            let length = splitN ? n : m
            let parts = m * n * k >= CPUKernels.gemmSplitMinimum ? min(pool.threads, length / 16) : 1
            if parts <= 1 { return gemmPart(m: m, n: n, pa, pb, pc) }
            let box = UncheckedSendable((pa, pb, pc))
            pool.run(parts) { part in
                let (pa, pb, pc) = box.value
                let start = length * part / parts / 16 * 16, end = part == parts - 1 ? length : length * (part + 1) / parts / 16 * 16
                if end <= start { return }
                if splitN {
                    gemmPart(m: m, n: end - start, pa, pb + (transB ? start * ldb : start), pc + start)
                } else {
                    gemmPart(m: end - start, n: n, pa + (transA ? start : start * lda), pb, pc + start * ldc)
                }
            }
        }
    }

    /// The packed kernel for a big Float32 product (the input projection X . W_ih^T of every recurrent layer, the
    /// weight gradients dG^T . X, dense layers on many rows), instead of cblas: op(B) [K, N] packed into
    /// `packScratch` by both threads (panel by panel), then C by blocks of about 96 rows, one
    /// lstmkit_sgemm_packed_strided call each (A^T read through its strides, not transposed), which the pool's
    /// threads take in turn. A block's rows of A (96 x 512 floats at most, 192 KB) stay in L2 while it passes every
    /// panel. K is taken in chunks of `packedKChunk` (C accumulates over them with beta 1), so a chunk's three
    /// panels (3 x 512 x 16 floats, 96 KB) stay in L2 as well: the weight gradients have K = T B (6400 at preset M).
    private func gemmPackingB(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, lda: Int,
                              b: UnsafeMutablePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws {
        let kc = min(k, Self.packedKChunk)
        let count = lstmkit_packed_b_count(kc, n)
        // One scratch per backend, grown as needed; a caller that finds it in use (another thread's gemm) packs into
        // a buffer of its own.
        let own = packScratchLock.try()
        defer { if own { packScratchLock.unlock() } }
        let scratch: CPUBuffer<Float>
        if own, let s = packScratch, s.count >= count { scratch = s } else {
            scratch = try CPUBuffer<Float>(count: count)
            if own { packScratch = scratch }
        }
        let pool = CPUWorkerPool.shared
        let panels = (n + 15) / 16, packParts = min(pool.threads, panels)
        // Row blocks: about 96 rows (a multiple of 8, the AVX-512 tile's height), as many as a multiple of the threads.
        let blocks = (m + 95) / 96 + (pool.threads - (m + 95) / 96 % pool.threads) % pool.threads
        let rows = ((m + blocks - 1) / blocks + 7) / 8 * 8
        let (ars, acs) = transA ? (1, lda) : (lda, 1)
        let box = UncheckedSendable((a, b, scratch.pointer, c))
        for k0 in stride(from: 0, to: k, by: kc) {
            let kn = min(kc, k - k0), chunkBeta = k0 == 0 ? beta : 1
            pool.run(packParts) { part in
                let (_, b, bp, _) = box.value
                lstmkit_pack_b(transB ? 1 : 0, kn, n, panels * part / packParts * 16, min(n, panels * (part + 1) / packParts * 16),
                               b + (transB ? k0 : k0 * ldb), ldb, bp)
            }
            pool.run((m + rows - 1) / rows) { block in
                let (a, _, bp, c) = box.value
                let r0 = block * rows, r1 = min(m, r0 + rows)
                lstmkit_sgemm_packed_strided(r1 - r0, 0, n, kn, a + r0 * ars + k0 * acs, ars, acs, bp, chunkBeta, c + r0 * ldc, ldc)
            }
        }
    }
    /// K per packed chunk of `gemmPackingB`: 512 (preset L, two rounds: predict 74.6-75.3 ms against 78.3-79.0 at
    /// 256 and 384; the training step's weight gradients within 2% of 384 and 8% faster than 256; unchunked K = 6400
    /// took 31.5 ms at M against 19.0: docs/decisions/0026-packed-big-products.md).
    static var packedKChunk: Int { 512 }

    /// Whether a product big enough to split goes to the threads by rows of A and C: when op(B) [K, N] fits in
    /// half a core's L2 (512 KB) and M has two parts. The cell kernels split the batch the same way, so each
    /// core reads the h / dG rows it wrote and writes the rows it reads next, and keeps all of W_hh in its own
    /// L2 (preset S: the step's median 7.2 -> 6.7 ms over six interleaved runs; with the packed gemm split by
    /// panels instead, S's per-step products took 79 us per step pair against 50: docs/decisions/0006-packed-step-operand.md).
    private func splitsByRows(m: Int, n: Int, k: Int) -> Bool {
        m >= 32 && n * k * MemoryLayout<S>.size <= 512 * 1024
    }

    // Packed gemm (Sources/CSmallGemm; used through StepOperand): op(B) packed once per pass into panels of 16
    // columns, then every step's product reads it front to back, with no packing per call (cblas packs B on
    // every call). Float32 with AVX-512F or AVX2 + FMA; LSTMKIT_CPU_SMALL_GEMM=0 turns it off with the small kernels.
    func packedOperandCount(k: Int, n: Int) -> Int? {
        S.self == Float.self && lstmkit_small_gemm_enabled() != 0 ? lstmkit_packed_b_count(k, n) : nil
    }

    func packOperand(transB: Bool, k: Int, n: Int, b: BufferView, ldb: Int, into: DeviceBuffer) throws {
        precondition(packedOperandCount(k: k, n: n).map { $0 <= into.count } == true, "packOperand: no packed gemm or buffer too small")
        timed("pack_operand") {
            let box = UncheckedSendable((floats(ptr(b)), floats(ptr(BufferView(into)))))
            let panels = (n + 15) / 16, parts = k * n >= CPUKernels.gemmSplitMinimum / 64 ? min(CPUWorkerPool.shared.threads, panels) : 1
            CPUWorkerPool.shared.run(parts) { part in
                let (src, dst) = box.value
                lstmkit_pack_b(transB ? 1 : 0, k, n, panels * part / parts * 16, min(n, panels * (part + 1) / parts * 16), src, ldb, dst)
            }
        }
    }

    func gemmPacked(m: Int, n: Int, k: Int, a: BufferView, lda: Int, packed: DeviceBuffer, beta: Double, c: BufferView, ldc: Int) throws {
        if m == 0 || n == 0 { return }
        timed("gemm_packed") {
            let box = UncheckedSendable((floats(ptr(a)), floats(ptr(BufferView(packed))), floats(ptr(c))))
            // By rows when `splitsByRows` (in whole register tiles), else by panels (each core reads its part of op(B)).
            let byRows = splitsByRows(m: m, n: n, k: k)
            let tile = CPUKernels.packedTileRows
            let length = byRows ? (m + tile - 1) / tile : (n + 15) / 16
            let parts = m * n * k >= CPUKernels.gemmSplitMinimum ? min(CPUWorkerPool.shared.threads * CPUKernels.chunksPerThread, length) : 1
            CPUWorkerPool.shared.run(parts) { part in
                let (fa, fb, fc) = box.value
                let start = length * part / parts, end = length * (part + 1) / parts
                if end <= start { return }
                if byRows {
                    let (r0, r1) = (start * tile, min(m, end * tile))
                    lstmkit_sgemm_packed(r1 - r0, 0, n, k, fa + r0 * lda, lda, fb, Float(beta), fc + r0 * ldc, ldc)
                } else {
                    lstmkit_sgemm_packed(m, start * 16, min(n, end * 16), k, fa, lda, fb, Float(beta), fc, ldc)
                }
            }
        }
    }

    func synchronize() throws {}
}
