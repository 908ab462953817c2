/// The fused GRU cell primitives (Kernels/gru_cell.cl; CPU twins in CPU/CPUGRUKernels.swift).
protocol GRUBackend {
    /// One forward step. gx: [T, B, 3H] by time; gh: [B, 3H]; hs: [T+1, B, H]; gates: [T, B, 4H] by step.
    /// activation (n) and recurrentActivation (r, z): kinds of Kernels/common.cl `lstmkit_act` (tanh 2, sigmoid 3).
    func gruCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                        gx: BufferView, gh: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                        hs: BufferView, gates: BufferView, y: BufferView, ldy: Int, activation: Int, recurrentActivation: Int) throws
    /// One backward step. dh: [B, H]; dgh: [T, B, 3H] by step; dgx: [T, B, 3H] by time.
    func gruCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gates: BufferView, hs: BufferView, dy: BufferView, lddy: Int,
                         dh: BufferView, dgh: BufferView, dgx: BufferView, activation: Int, recurrentActivation: Int) throws
}

extension GRUBackend {
    /// The PyTorch GRU (tanh, sigmoid).
    func gruCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                        gx: BufferView, gh: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                        hs: BufferView, gates: BufferView, y: BufferView, ldy: Int) throws {
        try gruCellForward(batch: batch, hidden: hidden, steps: steps, step: step, reverse: reverse, lengths: lengths, gx: gx, gh: gh,
                           biasIH: biasIH, biasHH: biasHH, hs: hs, gates: gates, y: y, ldy: ldy,
                           activation: Activation.tanh.kernelKind, recurrentActivation: Activation.sigmoid.kernelKind)
    }
    func gruCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gates: BufferView, hs: BufferView, dy: BufferView, lddy: Int,
                         dh: BufferView, dgh: BufferView, dgx: BufferView) throws {
        try gruCellBackward(batch: batch, hidden: hidden, steps: steps, step: step, reverse: reverse, lengths: lengths, gates: gates,
                            hs: hs, dy: dy, lddy: lddy, dh: dh, dgh: dgh, dgx: dgx,
                            activation: Activation.tanh.kernelKind, recurrentActivation: Activation.sigmoid.kernelKind)
    }
}

