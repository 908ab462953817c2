/// The persistent LSTM forward primitive (Kernels/lstm_persistent.cl; CPU twin in CPU/CPUPersistentKernels.swift):
/// the whole forward recurrence of one layer and direction in one call, in place of the per-step loop
/// T x (`gemm` r = h . W_hh^T + `lstmCellForward`). It writes the same hs, cs, gates and y, so the backward pass
/// is unchanged.
protocol PersistentLSTMBackend: Backend {
    /// True when `lstmSequenceForward` should replace the per-step loop for this shape: on OpenCL
    /// `OpenCLTuning.usePersistent(batch:hidden:)` (GPUs: batch <= 16 and hidden <= 256 by default; PoCL: never
    /// unless LSTMKIT_PERSISTENT_MAX_BATCH says so); on the CPU never (cblas per step is faster than its twin).
    func usePersistentForward(batch: Int, hidden: Int) -> Bool
}

extension PersistentLSTMBackend {
    /// All T steps of one layer and direction (the table's `lstmSequenceForward`). B = batch, T = steps, H = hidden.
    /// - gx: [T, B, 4H] by time (x . W_ih^T, one gemm before this call, without biases); offset 0.
    /// - whh: [4H, H], PyTorch's layout (not the transposed copy the NN gemm path uses); any offset.
    /// - biasIH, biasHH: [4H] each, or both nil.
    /// - hs, cs: [T+1, B, H] by step, hs[0] and cs[0] holding h0 and c0; offset 0.
    /// - gates: [T, B, 4H] by step; offset 0.
    /// - y: [T, B, ldy] by time, this direction's H columns starting at y's offset.
    /// - cellClip: > 0 clamps c_t to [-cellClip, cellClip]; 0 is off (as `lstmCellForward`).
    func lstmSequenceForward(batch: Int, hidden: Int, steps: Int, reverse: Bool, lengths: DeviceBuffer,
                             gx: BufferView, whh: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                             hs: BufferView, cs: BufferView, gates: BufferView, y: BufferView, ldy: Int,
                             cellClip: Double) throws {
        // The step buffers are whole allocations (as lstmCellForward); the kernel indexes them by step.
        precondition(gx.offset == 0 && hs.offset == 0 && cs.offset == 0 && gates.offset == 0)
        precondition((biasIH == nil) == (biasHH == nil), "both biases or neither")
        if batch == 0 || steps == 0 { return }
        let bias = biasIH ?? BufferView(gx.buffer)  // any valid buffer when there is no bias
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gx.buffer)); a.append(.view(whh))
        a.append(.view(bias)); a.append(.view(biasHH ?? BufferView(bias.buffer))); a.append(.int(biasIH == nil ? 0 : 1))
        a.append(.mem(hs.buffer)); a.append(.mem(cs.buffer)); a.append(.mem(gates.buffer)); a.append(.view(y)); a.append(.int(ldy))
        a.append(.float(cellClip))
        try launch(.lstmSequenceForward, a)
    }
}
