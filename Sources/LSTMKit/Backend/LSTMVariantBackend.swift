/// The parameters a layer-normalised cell step reads (all views into the layer's flat parameter buffer).
struct LayerNormCellParameters {
    let biasIH, biasHH: BufferView?
    /// LN_hh weight and bias [4H], LN_c weight and bias [H].
    let hhWeight, hhBias, cWeight, cBias: BufferView
}

/// The primitives of the LSTM variants: peephole gradients, projection and layer norm (Kernels/lstm_variants.cl;
/// CPU twins of the same names and argument order in CPU/CPUVariantKernels.swift), all kernels of the table
/// (`Kernel`), launched through `Backend.launch` on both devices. The layer-norm kernels' work-group size comes from
/// the row length (`OpenCLTuning.layerNormWorkGroup(units:)`). B = batch, T = time steps, H = hidden size,
/// P = projection size.
protocol LSTMVariantBackend: Backend {}

extension LSTMVariantBackend {
    /// dpeep [3H] += the peephole gradients over `rows` = T*B rows of dgs [T, B, 4H] and cs [T+1, B, H] (by step).
    func lstmPeepholeGrad(rows: Int, batch: Int, hidden: Int, dgs: BufferView, cs: BufferView, dpeep: BufferView) throws {
        precondition(dgs.offset == 0 && cs.offset == 0)
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(batch)); a.append(.int(hidden)); a.append(.mem(dgs.buffer))
        a.append(.mem(cs.buffer)); a.append(.view(dpeep))
        try launch(.lstmPeepholeGrad, a)
    }
    /// After the projection gemm of one step: carries h past a sequence's end, writes y and hm. hs, hm: [T+1, B, P].
    func lstmProjectionForward(batch: Int, proj: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                               hs: BufferView, y: BufferView, ldy: Int, recurrentMask: BufferView?, maskedStates: BufferView?) throws {
        precondition(hs.offset == 0 && (recurrentMask?.offset ?? 0) == 0 && (maskedStates?.offset ?? 0) == 0)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(proj)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(hs.buffer)); a.append(.view(y)); a.append(.int(ldy))
        a.append(.mem(recurrentMask?.buffer ?? hs.buffer)); a.append(.int(recurrentMask == nil ? 0 : 1))
        a.append(.mem(maskedStates?.buffer ?? hs.buffer))
        try launch(.lstmProjectionForward, a)
    }
    /// Before the projection's backward gemm of one step: dhs[step] = mask * dh + dy[t] (0 on padding), dh = 0
    /// (unchanged on padding). dh: [B, P]; dhs: [T, B, P] by step.
    func lstmProjectionBackward(batch: Int, proj: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                                dy: BufferView, lddy: Int, dh: BufferView, dhs: BufferView, recurrentMask: BufferView?) throws {
        precondition(dh.offset == 0 && dhs.offset == 0 && (recurrentMask?.offset ?? 0) == 0)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(proj)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.view(dy)); a.append(.int(lddy)); a.append(.mem(dh.buffer)); a.append(.mem(dhs.buffer))
        a.append(.mem(recurrentMask?.buffer ?? dh.buffer)); a.append(.int(recurrentMask == nil ? 0 : 1))
        try launch(.lstmProjectionBackward, a)
    }
    /// y = LN(x) row by row (rows of n), stats [rows, 2] = mean, rstd.
    func layerNormForward(rows: Int, n: Int, x: BufferView, weight: BufferView, bias: BufferView, y: BufferView, stats: BufferView) throws {
        precondition(x.offset == 0 && y.offset == 0 && stats.offset == 0 && weight.buffer === bias.buffer)
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(n)); a.append(.mem(x.buffer)); a.append(.mem(weight.buffer))
        a.append(.int(weight.offset)); a.append(.int(bias.offset)); a.append(.mem(y.buffer)); a.append(.mem(stats.buffer))
        try launch(.layerNormForward, a)
    }
    /// dx = the gradient through LN of dy (rows of n).
    func layerNormBackward(rows: Int, n: Int, dy: BufferView, x: BufferView, stats: BufferView, weight: BufferView, dx: BufferView) throws {
        precondition(dy.offset == 0 && x.offset == 0 && stats.offset == 0 && dx.offset == 0)
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(n)); a.append(.mem(dy.buffer)); a.append(.mem(x.buffer))
        a.append(.mem(stats.buffer)); a.append(.mem(weight.buffer)); a.append(.int(weight.offset)); a.append(.mem(dx.buffer))
        try launch(.layerNormBackward, a)
    }
    /// dWeight += sum dy * xhat, dBias += sum dy; row `row`'s mean is stats[row * statsStride + statsOffset].
    func layerNormParamGrad(rows: Int, n: Int, dy: BufferView, x: BufferView, stats: BufferView, statsStride: Int, statsOffset: Int,
                            dWeight: BufferView, dBias: BufferView) throws {
        precondition(dy.offset == 0 && stats.offset == 0 && dWeight.buffer === dBias.buffer)
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(n)); a.append(.mem(dy.buffer)); a.append(.view(x))
        a.append(.mem(stats.buffer)); a.append(.int(statsStride)); a.append(.int(statsOffset)); a.append(.mem(dWeight.buffer))
        a.append(.int(dWeight.offset)); a.append(.int(dBias.offset))
        try launch(.layerNormParamGrad, a)
    }
    /// One forward step of the layer-normalised cell. gxn: [T, B, 4H] by time (LN_ih already applied);
    /// r: [T, B, 4H] by step; stats: [T, B, 4] by step. The parameters (and peepholes) are views into one buffer.
    func lstmLayerNormCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                                  gxn: BufferView, r: BufferView, params p: LayerNormCellParameters,
                                  hs: BufferView, cs: BufferView, gates: BufferView, stats: BufferView,
                                  y: BufferView, ldy: Int, extras: LSTMCellExtras) throws {
        precondition(gxn.offset == 0 && r.offset == 0 && hs.offset == 0 && cs.offset == 0 && gates.offset == 0 && stats.offset == 0)
        precondition((extras.recurrentMask?.offset ?? 0) == 0 && (extras.maskedStates?.offset ?? 0) == 0)
        let params = p.hhWeight.buffer
        precondition([p.hhBias, p.cWeight, p.cBias].allSatisfy { $0.buffer === params } && (extras.peephole.map { $0.buffer === params } ?? true))
        precondition([p.biasIH, p.biasHH].allSatisfy { $0.map { $0.buffer === params } ?? true } && (p.biasIH == nil) == (p.biasHH == nil))
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gxn.buffer)); a.append(.mem(r.buffer))
        a.append(.mem(params)); a.append(.int(p.biasIH?.offset ?? 0)); a.append(.int(p.biasHH?.offset ?? 0)); a.append(.int(p.biasIH == nil ? 0 : 1))
        a.append(.int(p.hhWeight.offset)); a.append(.int(p.hhBias.offset)); a.append(.int(p.cWeight.offset)); a.append(.int(p.cBias.offset))
        a.append(.int(extras.peephole?.offset ?? 0)); a.append(.int(extras.peephole == nil ? 0 : 1))
        a.append(.mem(hs.buffer)); a.append(.mem(cs.buffer)); a.append(.mem(gates.buffer)); a.append(.mem(stats.buffer))
        a.append(.view(y)); a.append(.int(ldy)); a.append(.float(extras.cellClip))
        a.append(.mem(extras.recurrentMask?.buffer ?? hs.buffer)); a.append(.int(extras.recurrentMask == nil ? 0 : 1))
        a.append(.mem(extras.maskedStates?.buffer ?? hs.buffer)); a.append(.int(extras.writeOutput ? 1 : 0))
        try launch(.lstmLayerNormCellForward, a)
    }
    /// One backward step of the layer-normalised cell: dgs = dL/dr by step, dAs = dL/da by step, dAt = dL/da by time
    /// (written when reverse), dcn [T, B, H] = dL/dLN_c(c) by step.
    func lstmLayerNormCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                                   params p: LayerNormCellParameters, gates: BufferView, cs: BufferView, r: BufferView,
                                   stats: BufferView, dy: BufferView, lddy: Int, dh: BufferView, dc: BufferView,
                                   dgs: BufferView, dAs: BufferView, dAt: BufferView, dcn: BufferView, extras: LSTMCellExtras) throws {
        precondition([gates, cs, r, stats, dh, dc, dgs, dAs, dAt, dcn].allSatisfy { $0.offset == 0 })
        precondition((extras.recurrentMask?.offset ?? 0) == 0)
        let params = p.hhWeight.buffer
        precondition([p.cWeight, p.cBias].allSatisfy { $0.buffer === params } && (extras.peephole.map { $0.buffer === params } ?? true))
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(params)); a.append(.int(p.hhWeight.offset)); a.append(.int(p.cWeight.offset))
        a.append(.int(p.cBias.offset)); a.append(.int(extras.peephole?.offset ?? 0)); a.append(.int(extras.peephole == nil ? 0 : 1))
        a.append(.mem(gates.buffer)); a.append(.mem(cs.buffer)); a.append(.mem(r.buffer)); a.append(.mem(stats.buffer))
        a.append(.view(dy)); a.append(.int(lddy)); a.append(.mem(dh.buffer)); a.append(.mem(dc.buffer)); a.append(.mem(dgs.buffer))
        a.append(.mem(dAs.buffer)); a.append(.mem(dAt.buffer)); a.append(.mem(dcn.buffer)); a.append(.float(extras.cellClip))
        a.append(.mem(extras.recurrentMask?.buffer ?? dh.buffer)); a.append(.int(extras.recurrentMask == nil ? 0 : 1))
        try launch(.lstmLayerNormCellBackward, a)
    }
}
