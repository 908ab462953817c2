import COpenCL

/// The inference primitives on OpenCL: the streaming step is one launch of Kernels/inference.cl's `lstm_stream_step`
/// (built with lstm_cell.cl's defines, so it gives the cell's bits); `denseStep` is the gemm, bias and activation
/// kernels. `lstmCellInfer` is the table's (Backend/InferenceBackend+Launch.swift).
extension OpenCLBackend: InferenceBackend {
    private func a(_ b: DeviceBuffer) -> KernelArg { .mem((b as! CLBuffer).mem) }

    func fusesInferenceStep(hidden: Int) -> Bool { tuning.fusesStep(hidden: hidden) }
    func streamWeightCount(hidden: Int) -> Int? { nil }
    func prepareStreamWeight(hidden: Int, whh: BufferView, into: DeviceBuffer) throws {
        preconditionFailure("prepareStreamWeight on OpenCL, whose streamWeightCount is nil")
    }

    func lstmStreamStep(batch: Int, hidden: Int, gx: BufferView, ldgx: Int, ids: BufferView?, whh: BufferView,
                        prepared: DeviceBuffer?, biasIH: BufferView?, biasHH: BufferView?,
                        hIn: BufferView, cIn: BufferView, hOut: BufferView, cOut: BufferView,
                        scratch: DeviceBuffer, cellClip: Double, peephole: BufferView?) throws {
        let offS = hIn.offset
        precondition(cIn.offset == offS && hOut.offset == offS && cOut.offset == offS && hIn.buffer !== hOut.buffer)
        let kernel = try context.kernel("lstm_stream_step", file: "inference.cl", defines: tuning.cellDefines)
        let any = gx.buffer
        try context.launch(kernel, [
            .int(batch), .int(hidden), a(gx.buffer), .int(gx.offset), .int(ldgx),
            a(ids?.buffer ?? any), .int(ids?.offset ?? 0), .int(ids == nil ? 0 : 1),
            a(whh.buffer), .int(whh.offset),
            a(biasIH?.buffer ?? any), .int(biasIH?.offset ?? 0), a(biasHH?.buffer ?? any), .int(biasHH?.offset ?? 0),
            .int(biasIH == nil ? 0 : 1),
            a(hIn.buffer), a(cIn.buffer), a(hOut.buffer), a(cOut.buffer), .int(offS), .float(cellClip),
            a(peephole?.buffer ?? any), .int(peephole?.offset ?? 0), .int(peephole == nil ? 0 : 1),
        ], global: [hidden, batch], label: "lstm_stream_step")
    }

    func denseStep(batch: Int, features: Int, units: Int, x: BufferView, weight: BufferView, prepared: DeviceBuffer?,
                   bias: BufferView?, activation: Activation, out: BufferView) throws {
        try gemm(transA: false, transB: true, m: batch, n: units, k: features, alpha: 1, a: x, lda: features,
                 b: weight, ldb: features, beta: 0, c: out, ldc: units)
        if let bias { try addRowBias(rows: batch, cols: units, bias: bias, y: out) }
        switch activation {
        case .linear: break
        case .softmax: try softmaxRows(rows: batch, cols: units, x: out, y: out)
        default: try activationForward(activation, count: batch * units, x: out, y: out)
        }
    }

    func writeHost(_ values: UnsafeBufferPointer<Float>, to view: BufferView) throws {
        guard let base = values.baseAddress, values.count > 0 else { return }
        try clCheck(clEnqueueWriteBuffer(context.queue, (view.buffer as! CLBuffer).mem, cl_bool(CL_TRUE), view.offset * 4, values.count * 4,
                                         base, 0, nil, nil), "clEnqueueWriteBuffer")
    }

    func readHost(_ view: BufferView, into: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = into.baseAddress, into.count > 0 else { return }
        try clCheck(clEnqueueReadBuffer(context.queue, (view.buffer as! CLBuffer).mem, cl_bool(CL_TRUE), view.offset * 4, into.count * 4,
                                        base, 0, nil, nil), "clEnqueueReadBuffer")
    }
}
