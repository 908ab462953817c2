import CBLAS

/// Host memory of one CPU backend, `count` scalars of type S (or Int32 indices).
final class CPUBuffer<S>: DeviceBuffer, @unchecked Sendable {
    let pointer: UnsafeMutablePointer<S>
    let count: Int
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

/// The CPU path: cblas gemm (OpenBLAS, all cores) and the plain-loop twins in CPUKernels.
final class CPUBackend<S: CPUScalar>: Backend, @unchecked Sendable {
    var precision: Precision { S.precision }

    private func ptr(_ v: BufferView) -> UnsafeMutablePointer<S> {
        (v.buffer as! CPUBuffer<S>).pointer + v.offset
    }
    private func indices(_ b: DeviceBuffer) -> UnsafeMutablePointer<Int32> {
        (b as! CPUBuffer<Int32>).pointer
    }

    func allocate(_ count: Int) throws -> DeviceBuffer { CPUBuffer<S>(count: count) }

    func allocateIndices(_ values: [Int32]) throws -> DeviceBuffer {
        let buffer = CPUBuffer<Int32>(count: values.count)
        values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
        return buffer
    }

    func write(_ values: [Float], to view: BufferView) throws {
        let p = ptr(view)
        for (i, v) in values.enumerated() { p[i] = S(v) }
    }
    func write(_ values: [Double], to view: BufferView) throws {
        let p = ptr(view)
        for (i, v) in values.enumerated() { p[i] = S(v) }
    }
    func readFloats(_ view: BufferView, count: Int) throws -> [Float] {
        let p = ptr(view)
        return (0..<count).map { Float(p[$0]) }
    }
    func readDoubles(_ view: BufferView, count: Int) throws -> [Double] {
        let p = ptr(view)
        return (0..<count).map { Double(p[$0]) }
    }
    func copy(_ src: BufferView, to dst: BufferView, count: Int) throws {
        ptr(dst).update(from: ptr(src), count: count)
    }

    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
              a: BufferView, lda: Int, b: BufferView, ldb: Int, beta: Double, c: BufferView, ldc: Int) throws {
        if m == 0 || n == 0 { return }
        S.cblasGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: S(alpha),
                    a: ptr(a), lda: lda, b: ptr(b), ldb: ldb, beta: S(beta), c: ptr(c), ldc: ldc)
    }

    func lstmCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gx: BufferView, r: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                         hs: BufferView, cs: BufferView, gates: BufferView, y: BufferView, ldy: Int) throws {
        CPUKernels.lstm_cell_forward(batch, hidden, steps, step, reverse, indices(lengths),
                                     ptr(gx), ptr(r), biasIH.map(ptr), biasHH.map(ptr),
                                     ptr(hs), ptr(cs), ptr(gates), ptr(y), ldy)
    }

    func lstmCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                          gates: BufferView, cs: BufferView, dy: BufferView, lddy: Int,
                          dh: BufferView, dc: BufferView, dgs: BufferView, dgt: BufferView) throws {
        CPUKernels.lstm_cell_backward(batch, hidden, steps, step, reverse, indices(lengths),
                                      ptr(gates), ptr(cs), ptr(dy), lddy, ptr(dh), ptr(dc), ptr(dgs), ptr(dgt))
    }

    func fill(_ x: BufferView, count: Int, value: Double) throws {
        CPUKernels.fill(count, S(value), ptr(x))
    }
    func transpose01(d0: Int, d1: Int, features: Int, src: BufferView, dst: BufferView) throws {
        CPUKernels.transpose01(d0, d1, features, ptr(src), ptr(dst))
    }
    func columnSum(m: Int, n: Int, x: BufferView, ld: Int, beta: Double, out: BufferView) throws {
        CPUKernels.column_sum(m, n, ptr(x), ld, S(beta), ptr(out))
    }
    func dropout(count: Int, p: Double, seed: UInt32, x: BufferView, y: BufferView) throws {
        CPUKernels.dropout(count, Float(p), seed, ptr(x), ptr(y))
    }
    func synchronize() throws {}
}
