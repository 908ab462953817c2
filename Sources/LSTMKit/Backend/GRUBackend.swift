/// The fused GRU cell primitives (Kernels/gru_cell.cl; CPU twins in CPU/CPUGRUKernels.swift).
protocol GRUBackend {
    /// One forward step. gx: [T, B, 3H] by time; gh: [B, 3H]; hs: [T+1, B, H]; gates: [T, B, 4H] by step.
    func gruCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                        gx: BufferView, gh: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                        hs: BufferView, gates: BufferView, y: BufferView, ldy: Int) throws
    /// One backward step. dh: [B, H]; dgh: [T, B, 3H] by step; dgx: [T, B, 3H] by time.
    func gruCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gates: BufferView, hs: BufferView, dy: BufferView, lddy: Int,
                         dh: BufferView, dgh: BufferView, dgx: BufferView) throws
}

extension Device {
    /// The GRU primitives of this device's backend (both backends implement them).
    var gru: Backend & GRUBackend { backend as! Backend & GRUBackend }
}
