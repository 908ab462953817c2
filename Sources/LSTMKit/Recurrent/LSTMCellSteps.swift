/// The LSTM cell for `RecurrentDriver`: gates i, f, g, o (PyTorch's order), states h [R] and c [H], and the variants
/// as small parts of the step: a projection (h = W_hr m after the cell), peepholes and cell clipping (arguments of
/// the fused cell), layer norm (its own cell kernel and LN_ih over gx), recurrent dropout (a mask on h before W_hh).
/// B = batch, T = time steps, H = hidden size, G = 4H, P = projection size, R = P if > 0 else H.
struct LSTMCellSteps: RecurrentCellSteps {
    let hiddenSize: Int, projSize: Int
    let layerNorm: Bool, cellClip: Double?, recurrentDropout: Double
    /// Kinds of Kernels/common.cl `lstmkit_act` (`Activation.kernelKind`).
    let activation: Int, recurrentActivation: Int
    private var defaultActivations: Bool { activation == Activation.tanh.kernelKind && recurrentActivation == Activation.sigmoid.kernelKind }

    struct Tape {
        let ms: BufferView?         // projection: m_t = o * tanh(c_t), [T+1, B, H]
        let whrStep: StepOperand?   // projection: op(B) = W_hr^T [H, P], prepared once
        let dropout: (mask: BufferView, hm: BufferView)?  // recurrent dropout: [B, R], h * mask [T+1, B, R]
        /// Layer norm: LN_ih(gx) by time [T, B, 4H], the cell's statistics [T, B, 4] by step, LN_ih's [T, B, 2] by time.
        let norm: (gxn: BufferView, stats: BufferView, statsIH: BufferView)?
        let extras: LSTMCellExtras  // the fused cell's options, forward and backward
    }
    struct Backward {
        let daStep: BufferView      // dL/da by step (dgs itself without layer norm)
        let dcn: BufferView?        // layer norm: dL/dLN_c(c) by step, [T, B, H]
        let dhs: BufferView?, dm: BufferView?, zeros: BufferView?  // projection: [T, B, P], [B, H], [H]
        let whrStep: StepOperand?   // projection: op(B) = W_hr [P, H]
    }

    var gateCount: Int { 4 }
    var stateWidths: [Int] { [projSize > 0 ? projSize : hiddenSize, hiddenSize] }
    var keepsProjections: Bool { layerNorm }

    func beginForward(_ d: RecurrentDirection) throws -> Tape {
        let be = d.backend, ws = d.workspace, w = d.weights, T = d.steps, B = d.batch, H = hiddenSize, P = projSize, G = 4 * H
        let R = stateWidths[0], index = d.index
        var norm: (gxn: BufferView, stats: BufferView, statsIH: BufferView)? = nil
        if let ln = w.layerNorm {
            let gxn = BufferView(try ws("gxn", T * B * G)), statsIH = BufferView(try ws("statsIH\(index)", T * B * 2))
            try d.device.variants.layerNormForward(rows: T * B, n: G, x: d.gx, weight: ln.ihWeight, bias: ln.ihBias, y: gxn, stats: statsIH)
            norm = (gxn, BufferView(try ws("stats\(index)", T * B * 4)), statsIH)
        }
        // Projection: the cell writes m_t into ms (ms[0] is only carried into padding, but must be finite).
        let ms = P > 0 ? BufferView(try ws.buffer("ms\(index)", (T + 1) * B * H, first: B * H, from: nil)) : nil
        // Recurrent dropout: one mask per sequence [B, R]; hm = h * mask feeds the recurrent gemm.
        var dropout: (mask: BufferView, hm: BufferView)? = nil
        if d.training, recurrentDropout > 0 {
            let ones = BufferView(try ws("ones", B * R)), mask = BufferView(try ws("rmask\(index)", B * R))
            try be.fill(ones, count: B * R, value: 1)
            try be.dropout(count: B * R, p: recurrentDropout, seed: ws.nextSeed(), x: ones, y: mask)
            let hm = BufferView(try ws("hm\(index)", (T + 1) * B * R))
            try d.device.training.mul(count: B * R, x: d.states[0], y: mask, out: hm)
            dropout = (mask, hm)
        }
        let whrStep = try w.whr.map { whr in try StepOperand(be, b: whr, transB: true, k: H, n: P, ldb: H) { try ws("whrStep\(index)", $0) } }
        // The cell writes h (or m, with a projection) and, when the projection does not, y and hm.
        let extras = LSTMCellExtras(cellClip: cellClip ?? 0, peephole: w.peephole, recurrentMask: P > 0 ? nil : dropout?.mask,
                                    maskedStates: P > 0 ? nil : dropout?.hm, writeOutput: P == 0,
                                    activation: activation, recurrentActivation: recurrentActivation)
        return Tape(ms: ms, whrStep: whrStep, dropout: dropout, norm: norm, extras: extras)
    }

    /// Small batches on a GPU: the whole recurrence in one persistent kernel (the plain cell with tanh and sigmoid,
    /// and clipping, only; other activations run the step loop).
    func forwardSequence(_ d: RecurrentDirection, _ tape: Tape) throws -> Bool {
        let w = d.weights, persistent = d.device.persistent
        guard w.peephole == nil, !layerNorm, projSize == 0, tape.dropout == nil, defaultActivations,
              persistent.usePersistentForward(batch: d.batch, hidden: hiddenSize) else { return false }
        try persistent.lstmSequenceForward(batch: d.batch, hidden: hiddenSize, steps: d.steps, reverse: d.reverse, lengths: d.lengths,
                                           gx: d.gx, whh: w.whh, biasIH: w.bih, biasHH: w.bhh, hs: d.states[0], cs: d.states[1],
                                           gates: d.gates, y: d.y, ldy: d.ldy, cellClip: cellClip ?? 0)
        return true
    }

    func recurrentDropout(_ tape: Tape) -> (mask: BufferView, hm: BufferView)? { tape.dropout }

    func forwardStep(_ s: Int, _ d: RecurrentDirection, _ tape: Tape) throws {
        let be = d.backend, w = d.weights, B = d.batch, H = hiddenSize, P = projSize, hs = d.states[0], cs = d.states[1]
        let cellH = tape.ms ?? hs
        if let lnParams = w.layerNormCell, let norm = tape.norm {
            try d.device.variants.lstmLayerNormCellForward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse,
                                                           lengths: d.lengths, gxn: norm.gxn, r: d.r, params: lnParams, hs: cellH, cs: cs,
                                                           gates: d.gates, stats: norm.stats, y: d.y, ldy: d.ldy, extras: tape.extras)
        } else {
            try be.lstmCellForward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths, gx: d.gx, r: d.r,
                                   biasIH: w.bih, biasHH: w.bhh, hs: cellH, cs: cs, gates: d.gates, y: d.y, ldy: d.ldy, extras: tape.extras)
        }
        if let ms = tape.ms, let whrStep = tape.whrStep {
            // h_s = m_s . W_hr^T for every row, then padding carries h and the output is written.
            try whrStep.gemm(be, m: B, a: ms.advanced(by: (s + 1) * B * H), lda: H, beta: 0, c: hs.advanced(by: (s + 1) * B * P), ldc: P)
            try d.device.variants.lstmProjectionForward(batch: B, proj: P, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                                        hs: hs, y: d.y, ldy: d.ldy, recurrentMask: tape.dropout?.mask,
                                                        maskedStates: tape.dropout?.hm)
        }
    }

    func beginBackward(_ d: RecurrentDirection, _ tape: Tape) throws -> (dgx: BufferView, cell: Backward) {
        let be = d.backend, ws = d.workspace, w = d.weights, T = d.steps, B = d.batch, H = hiddenSize, G = 4 * H, P = projSize
        // dgs: w.r.t. the recurrent products by step (dW_hh, dh); daStep / daTime: w.r.t. the gate pre-activations by
        // step / by time. Without layer norm all three are one, except daTime when reverse.
        let daStep = layerNorm ? BufferView(try ws("das", T * B * G)) : d.dgs!
        let daTime = d.reverse ? BufferView(try ws("dat", T * B * G)) : daStep
        // Projection: the cell sees dm = dhs[s] . W_hr and no dy of its own.
        let dhs = P > 0 ? BufferView(try ws("dhs", T * B * P)) : nil, dm = P > 0 ? BufferView(try ws("dm", B * H)) : nil
        let zeros = P > 0 ? BufferView(try ws.buffer("zerosH", H, first: H, from: nil)) : nil
        let whrStep = try w.whr.map { whr in try StepOperand(be, b: whr, transB: false, k: P, n: H, ldb: H) { try ws("whrStep\(d.index)", $0) } }
        let dcn = layerNorm ? BufferView(try ws("dcn", T * B * H)) : nil
        return (daTime, Backward(daStep: daStep, dcn: dcn, dhs: dhs, dm: dm, zeros: zeros, whrStep: whrStep))
    }

    func backwardStep(_ s: Int, _ d: RecurrentDirection, _ tape: Tape, _ b: Backward, dStates: [BufferView], dgx: BufferView) throws {
        let B = d.batch, H = hiddenSize, P = projSize, dh = dStates[0], dc = dStates[1]
        var cellDH = dh, cellDY = d.y, cellLDY = d.ldy
        if let dhs = b.dhs, let dm = b.dm, let zeros = b.zeros, let whrStep = b.whrStep {
            try d.device.variants.lstmProjectionBackward(batch: B, proj: P, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                                         dy: d.y, lddy: d.ldy, dh: dh, dhs: dhs, recurrentMask: tape.dropout?.mask)
            try whrStep.gemm(d.backend, m: B, a: dhs.advanced(by: s * B * P), lda: P, beta: 0, c: dm, ldc: H)
            (cellDH, cellDY, cellLDY) = (dm, zeros, 0)
        }
        if let lnParams = d.weights.layerNormCell, let stats = tape.norm?.stats, let dcn = b.dcn {
            try d.device.variants.lstmLayerNormCellBackward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse,
                                                            lengths: d.lengths, params: lnParams, gates: d.gates, cs: d.states[1], r: d.r,
                                                            stats: stats, dy: cellDY, lddy: cellLDY, dh: cellDH, dc: dc, dgs: d.dgs!,
                                                            dAs: b.daStep, dAt: dgx, dcn: dcn, extras: tape.extras)
        } else {
            try d.backend.lstmCellBackward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                           gates: d.gates, cs: d.states[1], dy: cellDY, lddy: cellLDY, dh: cellDH, dc: dc, dgs: d.dgs!,
                                           dgt: dgx, extras: tape.extras)
        }
    }

    func finishBackward(_ d: RecurrentDirection, _ tape: Tape, _ b: Backward, dgx daTime: BufferView)
        throws -> (dgx: BufferView, biasIH: BufferView, biasHH: BufferView) {
        let w = d.weights, rows = d.steps * d.batch, H = hiddenSize, G = 4 * H, v = d.device.variants, cs = d.states[1]
        var dgx = daTime  // the gradient w.r.t. the raw input projection, by time
        if let ln = w.layerNorm, let gln = w.glayerNorm, case let (_, stats, statsIH)? = tape.norm, let dcn = b.dcn {
            try v.layerNormParamGrad(rows: rows, n: G, dy: b.daStep, x: d.r, stats: stats, statsStride: 4, statsOffset: 0,
                                     dWeight: gln.hhWeight, dBias: gln.hhBias)
            try v.layerNormParamGrad(rows: rows, n: H, dy: dcn, x: cs.advanced(by: d.batch * H), stats: stats, statsStride: 4, statsOffset: 2,
                                     dWeight: gln.cWeight, dBias: gln.cBias)
            try v.layerNormParamGrad(rows: rows, n: G, dy: daTime, x: d.gx, stats: statsIH, statsStride: 2, statsOffset: 0,
                                     dWeight: gln.ihWeight, dBias: gln.ihBias)
            dgx = BufferView(try d.workspace("dgx", rows * G))
            try v.layerNormBackward(rows: rows, n: G, dy: daTime, x: d.gx, stats: statsIH, weight: ln.ihWeight, dx: dgx)
        }
        if let gp = w.gpeephole { try v.lstmPeepholeGrad(rows: rows, batch: d.batch, hidden: H, dgs: b.daStep, cs: cs, dpeep: gp) }
        if let dhs = b.dhs, let ms = tape.ms, let gwhr = w.gwhr {
            // dW_hr += dhs^T . m over all steps.
            try d.backend.gemm(transA: true, transB: false, m: projSize, n: H, k: rows, alpha: 1, a: dhs, lda: projSize,
                               b: ms.advanced(by: d.batch * H), ldb: H, beta: 1, c: gwhr, ldc: H)
        }
        return (dgx, b.daStep, b.daStep)
    }
}
