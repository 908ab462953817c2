/// The tape-free cell of the inference path on any backend: one launch of the table's `lstmCellInfer`
/// (Kernels/inference.cl `lstm_cell_infer`, built with lstm_cell.cl's defines so it gives the training cell's bits;
/// CPU twin in CPU/CPUInferenceKernels.swift). The streaming step and the dense step stay each backend's own
/// (`InferenceBackend`): the CPU's streaming step reads a packed W_hh^T and a scratch row, a policy with no OpenCL twin.
extension InferenceBackend where Self: Backend {
    func lstmCellInfer(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                       gx: BufferView, r: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                       h: BufferView, c: BufferView, y: BufferView?, ldy: Int, cellClip: Double, peephole: BufferView?) throws {
        precondition(gx.offset == 0 && r.offset == 0 && h.offset == c.offset)
        let any = BufferView(gx.buffer)  // stands in for an absent optional buffer (never read)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gx.buffer)); a.append(.mem(r.buffer))
        a.append(.view(biasIH ?? any)); a.append(.view(biasHH ?? any)); a.append(.int(biasIH == nil ? 0 : 1))
        a.append(.mem(h.buffer)); a.append(.mem(c.buffer)); a.append(.int(h.offset))
        a.append(.view(y ?? any)); a.append(.int(ldy)); a.append(.int(y == nil ? 0 : 1)); a.append(.float(cellClip))
        a.append(.view(peephole ?? any)); a.append(.int(peephole == nil ? 0 : 1))
        try launch(.lstmCellInfer, a)
    }
}
