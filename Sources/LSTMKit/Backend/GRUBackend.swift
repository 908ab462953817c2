/// The fused GRU cell primitives (Kernels/gru_cell.cl; CPU twins in CPU/CPUGRUKernels.swift): two kernels of the
/// table (`Kernel.gruCellForward`, `.gruCellBackward`), launched through `Backend.launch` on both devices.
protocol GRUBackend: Backend {}

extension GRUBackend {
    /// One forward step. gx: [T, B, 3H] by time; gh: [B, 3H]; hs: [T+1, B, H]; gates: [T, B, 4H] by step (all offset
    /// 0). activation (n) and recurrentActivation (r, z): kinds of Kernels/common.cl `lstmkit_act` (tanh 2, sigmoid 3).
    func gruCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                        gx: BufferView, gh: BufferView, biasIH: BufferView?, biasHH: BufferView?, hs: BufferView, gates: BufferView,
                        y: BufferView, ldy: Int, activation: Int = Activation.tanh.kernelKind,
                        recurrentActivation: Int = Activation.sigmoid.kernelKind) throws {
        precondition(gx.offset == 0 && gh.offset == 0 && hs.offset == 0 && gates.offset == 0)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gx.buffer)); a.append(.mem(gh.buffer))
        a.append(.view(biasIH ?? gx)); a.append(.view(biasHH ?? gx)); a.append(.int(biasIH == nil ? 0 : 1))  // gx: any buffer
        a.append(.mem(hs.buffer)); a.append(.mem(gates.buffer)); a.append(.view(y)); a.append(.int(ldy))
        a.append(.int(activation)); a.append(.int(recurrentActivation))
        try launch(.gruCellForward, a)
    }
    /// One backward step. dh: [B, H]; dgh: [T, B, 3H] by step; dgx: [T, B, 3H] by time (all offset 0 but dy).
    func gruCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gates: BufferView, hs: BufferView, dy: BufferView, lddy: Int, dh: BufferView, dgh: BufferView, dgx: BufferView,
                         activation: Int = Activation.tanh.kernelKind, recurrentActivation: Int = Activation.sigmoid.kernelKind) throws {
        precondition(gates.offset == 0 && hs.offset == 0 && dh.offset == 0 && dgh.offset == 0 && dgx.offset == 0)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gates.buffer)); a.append(.mem(hs.buffer)); a.append(.view(dy)); a.append(.int(lddy))
        a.append(.mem(dh.buffer)); a.append(.mem(dgh.buffer)); a.append(.mem(dgx.buffer))
        a.append(.int(activation)); a.append(.int(recurrentActivation))
        try launch(.gruCellBackward, a)
    }
}
