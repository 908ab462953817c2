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
        let ms: DeviceBuffer?       // projection: m_t = o * tanh(c_t), [T+1, B, H]
        let whrStep: StepOperand?   // projection: op(B) = W_hr^T [H, P], prepared once
        let mask: DeviceBuffer?     // recurrent dropout: [B, R]
        let hm: DeviceBuffer?       // recurrent dropout: h * mask, [T+1, B, R]
        let gxn: DeviceBuffer?      // layer norm: LN_ih(gx) by time, [T, B, 4H]
        let stats: DeviceBuffer?    // layer norm: [T, B, 4] by step
        let statsIH: DeviceBuffer?  // layer norm: LN_ih statistics by time, [T, B, 2]
    }
    struct Backward {
        let daStep: DeviceBuffer    // dL/da by step (dgs itself without layer norm)
        let dcn: DeviceBuffer?      // layer norm: dL/dLN_c(c) by step, [T, B, H]
        let dhs: DeviceBuffer?, dm: DeviceBuffer?, zeros: DeviceBuffer?  // projection: [T, B, P], [B, H], [H]
        let whrStep: StepOperand?   // projection: op(B) = W_hr [P, H]
        let extras: LSTMCellExtras
    }

    var gateCount: Int { 4 }
    var gateTapeWidth: Int { 4 * hiddenSize }
    var stateWidths: [Int] { [projSize > 0 ? projSize : hiddenSize, hiddenSize] }
    var stateNames: [String] { ["h0", "c0"] }
    var keepsProjections: Bool { layerNorm }

    func beginForward(_ d: RecurrentDirection, _ f: RecurrentBuffers) throws -> Tape {
        let be = d.backend, ws = d.workspace, w = d.weights, T = d.steps, B = d.batch, H = hiddenSize, P = projSize, G = 4 * H
        let R = stateWidths[0], index = d.index
        var gxn: DeviceBuffer? = nil, statsIH: DeviceBuffer? = nil
        if let ln = w.layerNorm {
            gxn = try ws("gxn", T * B * G)
            statsIH = try ws("statsIH\(index)", T * B * 2)
            try d.device.variants.layerNormForward(rows: T * B, n: G, x: BufferView(f.gx), weight: ln.ihWeight, bias: ln.ihBias,
                                                   y: BufferView(gxn!), stats: BufferView(statsIH!))
        }
        // Projection: the cell writes m_t into ms (ms[0] is only carried into padding, but must be finite).
        let ms = P > 0 ? try ws("ms\(index)", (T + 1) * B * H) : nil
        if let ms { try be.fill(BufferView(ms), count: B * H, value: 0) }
        // Recurrent dropout: one mask per sequence [B, R]; hm = h * mask feeds the recurrent gemm.
        var mask: DeviceBuffer? = nil, hm: DeviceBuffer? = nil
        if d.training, recurrentDropout > 0 {
            let seed = ws.nextSeed()
            let ones = try ws("ones", B * R)
            try be.fill(BufferView(ones), count: B * R, value: 1)
            mask = try ws("rmask\(index)", B * R)
            try be.dropout(count: B * R, p: recurrentDropout, seed: seed, x: BufferView(ones), y: BufferView(mask!))
            hm = try ws("hm\(index)", (T + 1) * B * R)
            try d.device.training.mul(count: B * R, x: BufferView(f.states[0]), y: BufferView(mask!), out: BufferView(hm!))
        }
        let whrStep = try w.whr.map { whr in
            try StepOperand(be, b: whr, transB: true, k: H, n: P, ldb: H) { try ws("whrStep\(index)", $0) }
        }
        return Tape(ms: ms, whrStep: whrStep, mask: mask, hm: hm, gxn: gxn, stats: layerNorm ? try ws("stats\(index)", T * B * 4) : nil,
                    statsIH: statsIH)
    }

    /// Small batches on a GPU: the whole recurrence in one persistent kernel (the plain cell with tanh and sigmoid,
    /// and clipping, only; other activations run the step loop).
    func forwardSequence(_ d: RecurrentDirection, _ f: RecurrentBuffers, _ tape: Tape) throws -> Bool {
        let w = d.weights, persistent = d.device.persistent
        guard w.peephole == nil, !layerNorm, projSize == 0, tape.mask == nil, defaultActivations,
              persistent.usePersistentForward(batch: d.batch, hidden: hiddenSize) else { return false }
        try persistent.lstmSequenceForward(batch: d.batch, hidden: hiddenSize, steps: d.steps, reverse: d.reverse, lengths: d.lengths,
                                           gx: BufferView(f.gx), whh: w.whh, biasIH: w.bih, biasHH: w.bhh, hs: BufferView(f.states[0]),
                                           cs: BufferView(f.states[1]), gates: BufferView(f.gates), y: d.y, ldy: d.ldy,
                                           cellClip: cellClip ?? 0)
        return true
    }

    func recurrentInput(_ f: RecurrentBuffers, _ tape: Tape) -> DeviceBuffer { tape.hm ?? f.states[0] }
    func recurrentMask(_ tape: Tape) -> BufferView? { tape.mask.map { BufferView($0) } }

    func forwardStep(_ s: Int, _ d: RecurrentDirection, _ f: RecurrentBuffers, _ tape: Tape) throws {
        let be = d.backend, w = d.weights, B = d.batch, H = hiddenSize, P = projSize, hs = f.states[0], cs = f.states[1]
        // The cell writes h (or m, with a projection) and, when the projection does not, y and hm.
        let extras = LSTMCellExtras(cellClip: cellClip ?? 0, peephole: w.peephole,
                                    recurrentMask: P > 0 ? nil : tape.mask.map { BufferView($0) },
                                    maskedStates: P > 0 ? nil : tape.hm.map { BufferView($0) }, writeOutput: P == 0,
                                    activation: activation, recurrentActivation: recurrentActivation)
        let cellH = tape.ms ?? hs
        if let lnParams = w.layerNormCell, let gxn = tape.gxn, let stats = tape.stats {
            try d.device.variants.lstmLayerNormCellForward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse,
                                                           lengths: d.lengths, gxn: BufferView(gxn), r: BufferView(f.r), params: lnParams,
                                                           hs: BufferView(cellH), cs: BufferView(cs), gates: BufferView(f.gates),
                                                           stats: BufferView(stats), y: d.y, ldy: d.ldy, extras: extras)
        } else {
            try be.lstmCellForward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                   gx: BufferView(f.gx), r: BufferView(f.r), biasIH: w.bih, biasHH: w.bhh, hs: BufferView(cellH),
                                   cs: BufferView(cs), gates: BufferView(f.gates), y: d.y, ldy: d.ldy, extras: extras)
        }
        if let ms = tape.ms, let whrStep = tape.whrStep {
            // h_s = m_s . W_hr^T for every row, then padding carries h and the output is written.
            try whrStep.gemm(be, m: B, a: BufferView(ms, (s + 1) * B * H), lda: H, beta: 0, c: BufferView(hs, (s + 1) * B * P), ldc: P)
            try d.device.variants.lstmProjectionForward(batch: B, proj: P, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                                        hs: BufferView(hs), y: d.y, ldy: d.ldy, recurrentMask: tape.mask.map { BufferView($0) },
                                                        maskedStates: tape.hm.map { BufferView($0) })
        }
    }

    func beginBackward(_ d: RecurrentDirection, _ f: RecurrentBuffers, _ tape: Tape) throws -> (dgx: DeviceBuffer, cell: Backward) {
        let be = d.backend, ws = d.workspace, w = d.weights, T = d.steps, B = d.batch, H = hiddenSize, G = 4 * H, P = projSize
        // dgs: w.r.t. the recurrent products by step (dW_hh, dh); daStep / daTime: w.r.t. the gate pre-activations by
        // step / by time. Without layer norm all three are one, except daTime when reverse.
        let daStep = layerNorm ? try ws("das", T * B * G) : f.dgs!
        let daTime = d.reverse ? try ws("dat", T * B * G) : daStep
        // Projection: the cell sees dm = dhs[s] . W_hr and no dy of its own.
        let dhs = P > 0 ? try ws("dhs", T * B * P) : nil, dm = P > 0 ? try ws("dm", B * H) : nil
        let zeros = P > 0 ? try ws("zerosH", H) : nil
        if let zeros { try be.fill(BufferView(zeros), count: H, value: 0) }
        let whrStep = try w.whr.map { whr in try StepOperand(be, b: whr, transB: false, k: P, n: H, ldb: H) { try ws("whrStep\(d.index)", $0) } }
        let extras = LSTMCellExtras(cellClip: cellClip ?? 0, peephole: w.peephole, recurrentMask: P > 0 ? nil : recurrentMask(tape),
                                    activation: activation, recurrentActivation: recurrentActivation)
        return (daTime, Backward(daStep: daStep, dcn: layerNorm ? try ws("dcn", T * B * H) : nil, dhs: dhs, dm: dm, zeros: zeros,
                                 whrStep: whrStep, extras: extras))
    }

    func backwardStep(_ s: Int, _ d: RecurrentDirection, _ f: RecurrentBuffers, _ tape: Tape, _ b: Backward,
                      dStates: [DeviceBuffer], dgx: DeviceBuffer) throws {
        let B = d.batch, H = hiddenSize, P = projSize, dh = dStates[0], dc = dStates[1]
        var cellDH = BufferView(dh), cellDY = d.y, cellLDY = d.ldy
        if let dhs = b.dhs, let dm = b.dm, let zeros = b.zeros, let whrStep = b.whrStep {
            try d.device.variants.lstmProjectionBackward(batch: B, proj: P, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                                         dy: d.y, lddy: d.ldy, dh: BufferView(dh), dhs: BufferView(dhs),
                                                         recurrentMask: recurrentMask(tape))
            try whrStep.gemm(d.backend, m: B, a: BufferView(dhs, s * B * P), lda: P, beta: 0, c: BufferView(dm), ldc: H)
            (cellDH, cellDY, cellLDY) = (BufferView(dm), BufferView(zeros), 0)
        }
        if let lnParams = d.weights.layerNormCell, let stats = tape.stats, let dcn = b.dcn {
            try d.device.variants.lstmLayerNormCellBackward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse,
                                                            lengths: d.lengths, params: lnParams, gates: BufferView(f.gates),
                                                            cs: BufferView(f.states[1]), r: BufferView(f.r), stats: BufferView(stats),
                                                            dy: cellDY, lddy: cellLDY, dh: cellDH, dc: BufferView(dc),
                                                            dgs: BufferView(f.dgs!), dAs: BufferView(b.daStep), dAt: BufferView(dgx),
                                                            dcn: BufferView(dcn), extras: b.extras)
        } else {
            try d.backend.lstmCellBackward(batch: B, hidden: H, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                           gates: BufferView(f.gates), cs: BufferView(f.states[1]), dy: cellDY, lddy: cellLDY,
                                           dh: cellDH, dc: BufferView(dc), dgs: BufferView(f.dgs!), dgt: BufferView(dgx), extras: b.extras)
        }
    }

    func finishBackward(_ d: RecurrentDirection, _ f: RecurrentBuffers, _ tape: Tape, _ b: Backward, dgx daTime: DeviceBuffer)
        throws -> (dgx: DeviceBuffer, biasIH: DeviceBuffer, biasHH: DeviceBuffer) {
        let w = d.weights, rows = d.steps * d.batch, H = hiddenSize, G = 4 * H, v = d.device.variants
        var dgx = daTime  // the gradient w.r.t. the raw input projection, by time
        if let ln = w.layerNorm, let gln = w.glayerNorm, let stats = tape.stats, let statsIH = tape.statsIH, let dcn = b.dcn {
            try v.layerNormParamGrad(rows: rows, n: G, dy: BufferView(b.daStep), x: BufferView(f.r), stats: BufferView(stats),
                                     statsStride: 4, statsOffset: 0, dWeight: gln.hhWeight, dBias: gln.hhBias)
            try v.layerNormParamGrad(rows: rows, n: H, dy: BufferView(dcn), x: BufferView(f.states[1], d.batch * H), stats: BufferView(stats),
                                     statsStride: 4, statsOffset: 2, dWeight: gln.cWeight, dBias: gln.cBias)
            try v.layerNormParamGrad(rows: rows, n: G, dy: BufferView(daTime), x: BufferView(f.gx), stats: BufferView(statsIH),
                                     statsStride: 2, statsOffset: 0, dWeight: gln.ihWeight, dBias: gln.ihBias)
            dgx = try d.workspace("dgx", rows * G)
            try v.layerNormBackward(rows: rows, n: G, dy: BufferView(daTime), x: BufferView(f.gx), stats: BufferView(statsIH),
                                    weight: ln.ihWeight, dx: BufferView(dgx))
        }
        if let gp = w.gpeephole {
            try v.lstmPeepholeGrad(rows: rows, batch: d.batch, hidden: H, dgs: BufferView(b.daStep), cs: BufferView(f.states[1]), dpeep: gp)
        }
        if let dhs = b.dhs, let ms = tape.ms, let gwhr = w.gwhr {
            // dW_hr += dhs^T . m over all steps.
            try d.backend.gemm(transA: true, transB: false, m: projSize, n: H, k: rows, alpha: 1, a: BufferView(dhs), lda: projSize,
                               b: BufferView(ms, d.batch * H), ldb: H, beta: 1, c: gwhr, ldc: H)
        }
        return (dgx, b.daStep, b.daStep)
    }
}
