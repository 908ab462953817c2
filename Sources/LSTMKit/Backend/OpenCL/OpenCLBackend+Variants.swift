import COpenCL

/// The layer-norm primitives on OpenCL: one launch of a Kernels/lstm_variants.cl kernel each, work-groups sized by the
/// row length (the peephole and projection kernels are in the table: `LSTMVariantBackend`'s extension).
extension OpenCLBackend: LSTMVariantBackend {
    private func g(_ b: DeviceBuffer) -> KernelArg { .mem((b as! CLBuffer).mem) }

    /// The layer-norm work-group size for rows of `n` units: `tuning.layerNormGroup`, halved until it is at most n, so every
    /// work-item owns at least one unit. (PoCL 3.1 crashes in layer_norm_backward when work-items own none.) A group of 2
    /// becomes 1: PoCL 3.1's work-item replication, its choice for tiny groups, compiles lstm_ln_cell_forward at local
    /// size 2 into code that runs off its buffers (SIGSEGV, any H; POCL_WORK_GROUP_METHOD=loopvec runs it, Oclgrind
    /// finds nothing), and only the cell kernels (n = H = 2 or 3) get there, as layer_norm_* rows are 4H long.
    private func layerNormGroup(units n: Int) -> Int {
        var g = tuning.layerNormGroup
        while g > 1 && g > n { g /= 2 }
        return g == 2 ? 1 : g
    }
    private func run(_ name: String, _ args: [KernelArg], global: [Int], local: [Int]? = nil, group: Int = 1) throws {
        let defines = ["LSTMKIT_NATIVE_EXP": tuning.nativeExp ? "1" : "0", "LN_WG": "\(group)", "PVW": "\(tuning.columnVW)"]
        try context.launch(try context.kernel(name, file: "lstm_variants.cl", defines: defines), args, global: global, local: local)
    }

    func layerNormForward(rows: Int, n: Int, x: BufferView, weight: BufferView, bias: BufferView, y: BufferView, stats: BufferView) throws {
        precondition(x.offset == 0 && y.offset == 0 && stats.offset == 0 && weight.buffer === bias.buffer)
        let wg = layerNormGroup(units: n)
        try run("layer_norm_forward", [.int(rows), .int(n), g(x.buffer), g(weight.buffer), .int(weight.offset), .int(bias.offset),
                                       g(y.buffer), g(stats.buffer)], global: [wg, rows], local: [wg, 1], group: wg)
    }

    func layerNormBackward(rows: Int, n: Int, dy: BufferView, x: BufferView, stats: BufferView, weight: BufferView, dx: BufferView) throws {
        precondition(dy.offset == 0 && x.offset == 0 && stats.offset == 0 && dx.offset == 0)
        let wg = layerNormGroup(units: n)
        try run("layer_norm_backward", [.int(rows), .int(n), g(dy.buffer), g(x.buffer), g(stats.buffer), g(weight.buffer), .int(weight.offset),
                                        g(dx.buffer)], global: [wg, rows], local: [wg, 1], group: wg)
    }

    func layerNormParamGrad(rows: Int, n: Int, dy: BufferView, x: BufferView, stats: BufferView, statsStride: Int, statsOffset: Int,
                            dWeight: BufferView, dBias: BufferView) throws {
        precondition(dy.offset == 0 && stats.offset == 0 && dWeight.buffer === dBias.buffer)
        try run("layer_norm_param_grad", [.int(rows), .int(n), g(dy.buffer), g(x.buffer), .int(x.offset), g(stats.buffer),
                                          .int(statsStride), .int(statsOffset), g(dWeight.buffer), .int(dWeight.offset), .int(dBias.offset)],
                global: [(n + tuning.columnVW - 1) / tuning.columnVW])
    }

    func lstmLayerNormCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                                  gxn: BufferView, r: BufferView, params p: LayerNormCellParameters,
                                  hs: BufferView, cs: BufferView, gates: BufferView, stats: BufferView,
                                  y: BufferView, ldy: Int, extras: LSTMCellExtras) throws {
        precondition(gxn.offset == 0 && r.offset == 0 && hs.offset == 0 && cs.offset == 0 && gates.offset == 0 && stats.offset == 0)
        let params = p.hhWeight.buffer
        precondition([p.hhBias, p.cWeight, p.cBias].allSatisfy { $0.buffer === params } && (extras.peephole.map { $0.buffer === params } ?? true))
        let wg = layerNormGroup(units: hidden)
        try run("lstm_ln_cell_forward", [
            .int(batch), .int(hidden), .int(steps), .int(step), .int(reverse ? 1 : 0), g(lengths), g(gxn.buffer), g(r.buffer),
            g(params), .int(p.biasIH?.offset ?? 0), .int(p.biasHH?.offset ?? 0), .int(p.biasIH == nil ? 0 : 1),
            .int(p.hhWeight.offset), .int(p.hhBias.offset), .int(p.cWeight.offset), .int(p.cBias.offset),
            .int(extras.peephole?.offset ?? 0), .int(extras.peephole == nil ? 0 : 1),
            g(hs.buffer), g(cs.buffer), g(gates.buffer), g(stats.buffer), g(y.buffer), .int(y.offset), .int(ldy), .float(extras.cellClip),
            g(extras.recurrentMask?.buffer ?? hs.buffer), .int(extras.recurrentMask == nil ? 0 : 1),
            g(extras.maskedStates?.buffer ?? hs.buffer), .int(extras.writeOutput ? 1 : 0),
        ], global: [wg, batch], local: [wg, 1], group: wg)
    }

    func lstmLayerNormCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                                   params p: LayerNormCellParameters, gates: BufferView, cs: BufferView, r: BufferView,
                                   stats: BufferView, dy: BufferView, lddy: Int, dh: BufferView, dc: BufferView,
                                   dgs: BufferView, dAs: BufferView, dAt: BufferView, dcn: BufferView, extras: LSTMCellExtras) throws {
        precondition([gates, cs, r, stats, dh, dc, dgs, dAs, dAt, dcn].allSatisfy { $0.offset == 0 })
        let params = p.hhWeight.buffer
        precondition([p.cWeight, p.cBias].allSatisfy { $0.buffer === params } && (extras.peephole.map { $0.buffer === params } ?? true))
        let wg = layerNormGroup(units: hidden)
        try run("lstm_ln_cell_backward", [
            .int(batch), .int(hidden), .int(steps), .int(step), .int(reverse ? 1 : 0), g(lengths),
            g(params), .int(p.hhWeight.offset), .int(p.cWeight.offset), .int(p.cBias.offset),
            .int(extras.peephole?.offset ?? 0), .int(extras.peephole == nil ? 0 : 1),
            g(gates.buffer), g(cs.buffer), g(r.buffer), g(stats.buffer), g(dy.buffer), .int(dy.offset), .int(lddy),
            g(dh.buffer), g(dc.buffer), g(dgs.buffer), g(dAs.buffer), g(dAt.buffer), g(dcn.buffer), .float(extras.cellClip),
            g(extras.recurrentMask?.buffer ?? dh.buffer), .int(extras.recurrentMask == nil ? 0 : 1),
        ], global: [wg, batch], local: [wg, 1], group: wg)
    }
}
