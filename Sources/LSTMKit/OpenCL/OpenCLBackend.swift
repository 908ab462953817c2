import COpenCL

/// A `cl_mem` of `count` scalars (float32, or int32 indices), released in `deinit`.
final class CLBuffer: DeviceBuffer, @unchecked Sendable {
    let mem: cl_mem
    let count: Int
    init(context: OpenCLContext, count: Int, elementSize: Int = 4) throws {
        var err: cl_int = 0
        let m = clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), max(count, 1) * elementSize, nil, &err)
        try clCheck(err, "clCreateBuffer(\(count * elementSize) bytes)")
        guard let m else { throw OpenCLError.call(function: "clCreateBuffer", status: err, name: clErrorName(err)) }
        mem = m
        self.count = count
    }
    deinit { clReleaseMemObject(mem) }
}

/// Tuning values for one device, passed to the kernels as `-D` options.
struct OpenCLTuning {
    /// Register block of the gemm (rows x columns of C per work-item).
    var gemmTM = 4, gemmTN = 4
    /// Local size of the gemm launch, or nil to let the runtime choose.
    var gemmLocal: [Int]? = nil

    static func forDevice(_ info: OpenCLDeviceInfo) -> OpenCLTuning {
        info.isGPU ? OpenCLTuning(gemmTM: 4, gemmTN: 4, gemmLocal: [16, 16]) : OpenCLTuning(gemmTM: 4, gemmTN: 8, gemmLocal: nil)
    }
}

/// The OpenCL path: every primitive is one kernel launch (or a buffer copy) on the context's in-order queue.
final class OpenCLBackend: Backend, @unchecked Sendable {
    let context: OpenCLContext
    let tuning: OpenCLTuning
    var precision: Precision { .float32 }

    init(context: OpenCLContext) {
        self.context = context
        tuning = OpenCLTuning.forDevice(context.info)
    }

    private func mem(_ b: DeviceBuffer) -> cl_mem { (b as! CLBuffer).mem }

    func allocate(_ count: Int) throws -> DeviceBuffer { try CLBuffer(context: context, count: count) }

    func allocateIndices(_ values: [Int32]) throws -> DeviceBuffer {
        let buffer = try CLBuffer(context: context, count: values.count)
        try clCheck(clEnqueueWriteBuffer(context.queue, buffer.mem, cl_bool(CL_TRUE), 0, values.count * 4, values, 0, nil, nil),
                    "clEnqueueWriteBuffer")
        return buffer
    }

    func write(_ values: [Float], to view: BufferView) throws {
        if values.isEmpty { return }
        try clCheck(clEnqueueWriteBuffer(context.queue, mem(view.buffer), cl_bool(CL_TRUE), view.offset * 4, values.count * 4,
                                         values, 0, nil, nil), "clEnqueueWriteBuffer")
    }
    func write(_ values: [Double], to view: BufferView) throws {
        try write(values.map { Float($0) }, to: view)
    }
    func readFloats(_ view: BufferView, count: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return out }
        try clCheck(clEnqueueReadBuffer(context.queue, mem(view.buffer), cl_bool(CL_TRUE), view.offset * 4, count * 4,
                                        &out, 0, nil, nil), "clEnqueueReadBuffer")
        return out
    }
    func readDoubles(_ view: BufferView, count: Int) throws -> [Double] {
        try readFloats(view, count: count).map { Double($0) }
    }
    func copy(_ src: BufferView, to dst: BufferView, count: Int) throws {
        if count == 0 { return }
        try clCheck(clEnqueueCopyBuffer(context.queue, mem(src.buffer), mem(dst.buffer), src.offset * 4, dst.offset * 4,
                                        count * 4, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
              a: BufferView, lda: Int, b: BufferView, ldb: Int, beta: Double, c: BufferView, ldc: Int) throws {
        let kernel = try context.kernel("gemm", file: "gemm.cl", defines: [
            "TRANS_A": transA ? "1" : "0", "TRANS_B": transB ? "1" : "0",
            "TM": "\(tuning.gemmTM)", "TN": "\(tuning.gemmTN)",
        ])
        try context.launch(kernel, [
            .int(m), .int(n), .int(k), .float(alpha),
            .mem(mem(a.buffer)), .int(a.offset), .int(lda),
            .mem(mem(b.buffer)), .int(b.offset), .int(ldb),
            .float(beta), .mem(mem(c.buffer)), .int(c.offset), .int(ldc),
        ], global: [(n + tuning.gemmTN - 1) / tuning.gemmTN, (m + tuning.gemmTM - 1) / tuning.gemmTM], local: tuning.gemmLocal)
    }

    func lstmCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gx: BufferView, r: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                         hs: BufferView, cs: BufferView, gates: BufferView, y: BufferView, ldy: Int) throws {
        // The step buffers are whole allocations; the kernel indexes them by step.
        precondition(gx.offset == 0 && r.offset == 0 && hs.offset == 0 && cs.offset == 0 && gates.offset == 0)
        let kernel = try context.kernel("lstm_cell_forward", file: "lstm_cell.cl")
        let biasMem = biasIH.map { mem($0.buffer) } ?? mem(gx.buffer)  // any valid buffer when there is no bias
        try context.launch(kernel, [
            .int(batch), .int(hidden), .int(steps), .int(step), .int(reverse ? 1 : 0), .mem(mem(lengths)),
            .mem(mem(gx.buffer)), .mem(mem(r.buffer)),
            .mem(biasMem), .int(biasIH?.offset ?? 0),
            .mem(biasHH.map { mem($0.buffer) } ?? biasMem), .int(biasHH?.offset ?? 0), .int(biasIH == nil ? 0 : 1),
            .mem(mem(hs.buffer)), .mem(mem(cs.buffer)), .mem(mem(gates.buffer)),
            .mem(mem(y.buffer)), .int(y.offset), .int(ldy),
        ], global: [hidden, batch])
    }

    func lstmCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                          gates: BufferView, cs: BufferView, dy: BufferView, lddy: Int,
                          dh: BufferView, dc: BufferView, dgs: BufferView, dgt: BufferView) throws {
        precondition(gates.offset == 0 && cs.offset == 0 && dh.offset == 0 && dc.offset == 0 && dgs.offset == 0 && dgt.offset == 0)
        let kernel = try context.kernel("lstm_cell_backward", file: "lstm_cell.cl")
        try context.launch(kernel, [
            .int(batch), .int(hidden), .int(steps), .int(step), .int(reverse ? 1 : 0), .mem(mem(lengths)),
            .mem(mem(gates.buffer)), .mem(mem(cs.buffer)), .mem(mem(dy.buffer)), .int(dy.offset), .int(lddy),
            .mem(mem(dh.buffer)), .mem(mem(dc.buffer)), .mem(mem(dgs.buffer)), .mem(mem(dgt.buffer)),
        ], global: [hidden, batch])
    }

    func fill(_ x: BufferView, count: Int, value: Double) throws {
        let kernel = try context.kernel("fill", file: "elementwise.cl")
        try context.launch(kernel, [.int(count), .float(value), .mem(mem(x.buffer)), .int(x.offset)], global: [count])
    }
    func transpose01(d0: Int, d1: Int, features: Int, src: BufferView, dst: BufferView) throws {
        let kernel = try context.kernel("transpose01", file: "elementwise.cl")
        try context.launch(kernel, [.int(d0), .int(d1), .int(features), .mem(mem(src.buffer)), .int(src.offset),
                                    .mem(mem(dst.buffer)), .int(dst.offset)], global: [features, d1, d0])
    }
    func columnSum(m: Int, n: Int, x: BufferView, ld: Int, beta: Double, out: BufferView) throws {
        let kernel = try context.kernel("column_sum", file: "elementwise.cl")
        try context.launch(kernel, [.int(m), .int(n), .mem(mem(x.buffer)), .int(x.offset), .int(ld), .float(beta),
                                    .mem(mem(out.buffer)), .int(out.offset)], global: [n])
    }
    func dropout(count: Int, p: Double, seed: UInt32, x: BufferView, y: BufferView) throws {
        let kernel = try context.kernel("dropout", file: "elementwise.cl")
        try context.launch(kernel, [.int(count), .float(p), .uint(seed), .mem(mem(x.buffer)), .int(x.offset),
                                    .mem(mem(y.buffer)), .int(y.offset)], global: [count])
    }
    func synchronize() throws { try context.finish() }
}
