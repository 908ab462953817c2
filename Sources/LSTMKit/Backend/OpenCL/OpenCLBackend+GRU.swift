import COpenCL

/// The GRU primitives on OpenCL: one launch of a Kernels/gru_cell.cl kernel each.
extension OpenCLBackend: GRUBackend {
    private func g(_ b: DeviceBuffer) -> KernelArg { .mem((b as! CLBuffer).mem) }

    func gruCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                        gx: BufferView, gh: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                        hs: BufferView, gates: BufferView, y: BufferView, ldy: Int, activation: Int, recurrentActivation: Int) throws {
        precondition(gx.offset == 0 && gh.offset == 0 && hs.offset == 0 && gates.offset == 0)
        let kernel = try context.kernel("gru_cell_forward", file: "gru_cell.cl")
        let biasBuffer = biasIH?.buffer ?? gx.buffer  // any valid buffer when there is no bias
        try context.launch(kernel, [
            .int(batch), .int(hidden), .int(steps), .int(step), .int(reverse ? 1 : 0), g(lengths), g(gx.buffer), g(gh.buffer),
            g(biasBuffer), .int(biasIH?.offset ?? 0), g(biasHH?.buffer ?? biasBuffer), .int(biasHH?.offset ?? 0), .int(biasIH == nil ? 0 : 1),
            g(hs.buffer), g(gates.buffer), g(y.buffer), .int(y.offset), .int(ldy), .int(activation), .int(recurrentActivation),
        ], global: [hidden, batch])
    }

    func gruCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gates: BufferView, hs: BufferView, dy: BufferView, lddy: Int,
                         dh: BufferView, dgh: BufferView, dgx: BufferView, activation: Int, recurrentActivation: Int) throws {
        precondition(gates.offset == 0 && hs.offset == 0 && dh.offset == 0 && dgh.offset == 0 && dgx.offset == 0)
        let kernel = try context.kernel("gru_cell_backward", file: "gru_cell.cl")
        try context.launch(kernel, [
            .int(batch), .int(hidden), .int(steps), .int(step), .int(reverse ? 1 : 0), g(lengths), g(gates.buffer), g(hs.buffer),
            g(dy.buffer), .int(dy.offset), .int(lddy), g(dh.buffer), g(dgh.buffer), g(dgx.buffer),
            .int(activation), .int(recurrentActivation),
        ], global: [hidden, batch])
    }
}
