/// The one recurrent engine behind `LSTM` and `GRU`. One training step, file by file (B = batch, T = time steps,
/// I = input size, H = hidden size, G = gates * H, L = layers, D = directions, W_h = h's width, R for an LSTM with a
/// projection):
/// 1. LSTM.swift / GRU.swift (on RNNBase.swift): the public layer; its `forward` and `backward` call this driver.
/// 2. RecurrentInputChecks.swift: input, lengths, states and gradients checked, with typed errors.
/// 3. Here, `forward`, per layer: dropout of the input (training, layers > 0); per direction (`RecurrentDirection`,
///    its buffers from `RecurrentWorkspace`) one gemm for the input projection of all steps gx [T, B, G] = x . W_ih^T,
///    the initial states, then per step one gemm r = h_{s-1} . W_hh^T and the cell's step (`RecurrentCellSteps`:
///    LSTMCellSteps.swift, GRUCellSteps.swift, which launch the Backend's cell kernels). The layer output is
///    [T, B, D*W_h], time-major inside; every state's last step goes to h_n (c_n).
/// 4. Here, `backward`, per layer (last first) and direction: per step the cell's backward step and one gemm
///    dh += dgs[s] . W_hh; then one gemm each for dW_ih, dW_hh and dX over all steps, the bias gradients as column
///    sums, and the cell's own parameter gradients.
/// 5. RecurrentParameters.swift: where the weights and their gradients live (one flat buffer each).
/// Nothing waits on the host inside the loops; buffers are kept from call to call (`RecurrentWorkspace`).
final class RecurrentDriver<Cell: RecurrentCellSteps>: RecurrentEngine {
    let cell: Cell
    let device: Device
    let batchFirst: Bool
    /// Dropout probability on the inputs of every layer but the first, in training mode only.
    let dropout: Double
    /// [layer][direction]
    let weights: [[RecurrentParameters.Weights]]
    var numLayers: Int { weights.count }
    var numDirections: Int { weights[0].count }
    let workspace: RecurrentWorkspace

    /// What one layer and direction's forward keeps for backward.
    typealias DirectionTape = (direction: RecurrentDirection, cell: Cell.Tape)
    /// What one layer's forward keeps: its input (time-major [T, B, in_l], after dropout), the seed of that dropout,
    /// and each direction's tape.
    typealias LayerTape = (input: BufferView, dropoutSeed: UInt32?, directions: [DirectionTape])
    /// What the forward pass keeps for backward.
    private var tape: (steps: Int, batch: Int, lengths: DeviceBuffer, layers: [LayerTape])?

    /// `weights` [layer][direction] gives the sizes: input, layers and directions.
    init(cell: Cell, device: Device, batchFirst: Bool, dropout: Double, weights: [[RecurrentParameters.Weights]], seed: UInt64) {
        (self.cell, self.device, self.batchFirst, self.dropout, self.weights) = (cell, device, batchFirst, dropout, weights)
        workspace = RecurrentWorkspace(backend: device.backend, seed: seed)
    }

    private var checks: RecurrentInputChecks {
        RecurrentInputChecks(device: device, inputSize: weights[0][0].inputSize, batchFirst: batchFirst,
                             stateCount: numLayers * numDirections, hiddenSize: cell.hiddenSize)
    }

    // MARK: Forward

    /// Runs the network (`training`: with dropout; packed-sequence semantics for `lengths`, each in 1...T; zero initial states by default).
    /// - Returns: the output `[T, B, D*W_h]` (batch-first: `[B, T, D*W_h]`) and the final states, each `[L*D, B, W]`.
    func forward(_ input: Tensor, lengths: [Int]?, initialStates: [Tensor]?, training: Bool) throws -> (output: Tensor, states: [Tensor]) {
        let (T, B) = try checks.input(input)
        let widths = cell.stateWidths, D = numDirections, L = numLayers, be = device.backend, ws = workspace
        let lengthsBuffer = try ws.lengths(checks.lengths(lengths, batch: B, steps: T))
        try checks.states(initialStates ?? [], names: Array(["h0", "c0"][..<widths.count]), batch: B, widths: widths)
        var x = try timeMajor(input, "xt", steps: T, batch: B)
        let finals = try widths.map { try be.allocate(L * D * B * $0) }
        var layers: [LayerTape] = []
        var y = x.buffer
        for l in 0..<L {
            let inSize = weights[l][0].inputSize
            let seed = l > 0 && training && dropout > 0 ? ws.nextSeed() : nil
            if let seed {
                let xd = try ws("dropout\(l)", T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed, x: x, y: BufferView(xd))
                x = BufferView(xd)
            }
            y = l == L - 1 ? try be.allocate(T * B * D * widths[0]) : try ws("y\(l)", T * B * D * widths[0])
            let directions = try (0..<D).map { d in
                let index = l * D + d
                let initial = initialStates?.enumerated().map { $1.view.advanced(by: index * B * widths[$0]) }
                let t = try forwardDirection(layer: l, direction: d, steps: T, batch: B, lengths: lengthsBuffer,
                                             y: BufferView(y, d * widths[0]), x: x, initial: initial, training: training)
                for (i, w) in widths.enumerated() {
                    try be.copy(t.direction.states[i].advanced(by: T * B * w), to: BufferView(finals[i], index * B * w), count: B * w)
                }
                return t
            }
            layers.append((x, seed, directions))
            x = BufferView(y)
        }
        tape = (T, B, lengthsBuffer, layers)
        let output = try fromTimeMajor(BufferView(y), steps: T, batch: B, features: D * widths[0])
        return (output, zip(finals, widths).map { Tensor(shape: [L * D, B, $1], view: BufferView($0), device: device) })
    }

    /// One layer and direction: the input projection of all steps, the initial states, then the time loop.
    private func forwardDirection(layer l: Int, direction: Int, steps T: Int, batch B: Int, lengths: DeviceBuffer, y: BufferView,
                                  x: BufferView, initial: [BufferView]?, training: Bool) throws -> DirectionTape {
        let be = device.backend, ws = workspace, w = weights[l][direction], index = l * numDirections + direction
        let G = cell.gateCount * cell.hiddenSize, inSize = w.inputSize, R = cell.stateWidths[0], keeps = cell.keepsProjections
        // gx[T*B, G] = x . W_ih^T. W_ih as StepOperand prepares it, unpacked: transposed once per forward for a
        // backend whose NN gemm is its fast one.
        let gx = try ws(keeps ? "gx\(index)" : "gx", T * B * G)
        let wih = try StepOperand(be, b: w.wih, transB: true, k: inSize, n: G, ldb: inSize, packs: false) { try ws("wihT\(index)", $0) }
        try wih.gemm(be, m: T * B, a: x, lda: inSize, beta: 0, c: BufferView(gx), ldc: G)
        // The states by step, each [T+1, B, W]: step 0 from `initial`, or zeros.
        let states = try cell.stateWidths.enumerated().map { i, width in
            BufferView(try ws.buffer("state\(i)_\(index)", (T + 1) * B * width, first: B * width, from: initial?[i]))
        }
        let d = RecurrentDirection(index: index, reverse: direction == 1, steps: T, batch: B, lengths: lengths, weights: w, y: y,
                                   ldy: numDirections * R, device: device, workspace: ws, training: training, gx: BufferView(gx),
                                   r: BufferView(keeps ? try ws("r\(index)", T * B * G) : try ws("r", B * G)), states: states,
                                   gates: BufferView(try ws("gates\(index)", T * B * 4 * cell.hiddenSize)))
        let cellTape = try cell.beginForward(d)
        if try cell.forwardSequence(d, cellTape) { return (d, cellTape) }
        // The per-step product's weight, prepared once: op(B) = W_hh^T [W_h, G].
        let whhStep = try StepOperand(be, b: w.whh, transB: true, k: R, n: G, ldb: R) { try ws("whhStep\(index)", $0) }
        let recurrentInput = cell.recurrentDropout(cellTape)?.hm ?? d.states[0]
        for s in 0..<T {
            // The recurrent product of all gates at once: r[B, G] = h_{s-1} . W_hh^T, then the cell's step.
            try whhStep.gemm(be, m: B, a: recurrentInput.advanced(by: s * B * R), lda: R, beta: 0,
                             c: d.r.advanced(by: keeps ? s * B * G : 0), ldc: G)
            try cell.forwardStep(s, d, cellTape)
        }
        return (d, cellTape)
    }

    // MARK: Backward

    /// Backpropagation through time for the last `forward`: adds the parameter gradients and returns the gradients
    /// w.r.t. the input (nil unless `inputGradient`: the first layer's dX gemm is skipped) and the initial states.
    /// `gradStates` (each `[L*D, B, W]`, nil: zero) are the gradients w.r.t. the final states.
    func backward(gradOutput: Tensor?, gradStates: [Tensor?], inputGradient: Bool) throws -> (input: Tensor?, states: [Tensor]) {
        guard let tape else { throw LSTMKitError.noForwardPass }
        let T = tape.steps, B = tape.batch, be = device.backend, ws = workspace
        let widths = cell.stateWidths, D = numDirections, L = numLayers, DW = D * widths[0]
        try checks.gradOutput(gradOutput, steps: T, batch: B, features: DW)
        try checks.states(gradStates, names: Array(["gradH", "gradC"][..<widths.count]), batch: B, widths: widths)
        // dy: gradient w.r.t. this layer's output, time-major [T, B, D*W_h] (zero without gradOutput).
        var dy = try gradOutput.map { try timeMajor($0, "dyt", steps: T, batch: B) }
            ?? BufferView(ws.buffer("dyzero", T * B * DW, first: T * B * DW, from: nil))
        let dStates0 = try widths.map { try be.allocate(L * D * B * $0) }
        var dx: DeviceBuffer? = nil
        for l in (0..<L).reversed() {
            let inSize = weights[l][0].inputSize
            let wanted = l > 0 || inputGradient
            dx = !wanted ? nil : l == 0 && !batchFirst ? try be.allocate(T * B * inSize) : try ws("dx\(l)", T * B * inSize)
            for d in 0..<D {
                try backwardDirection(tape.layers[l].directions[d], dy: dy.advanced(by: d * widths[0]), x: tape.layers[l].input,
                                      gradStates: gradStates, dStates0: dStates0, dx: dx.map { BufferView($0) }, accumulate: d == 1)
            }
            if let seed = tape.layers[l].dropoutSeed, let dropped = dx {
                let undropped = try ws("undropped\(l)", T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed, x: BufferView(dropped), y: BufferView(undropped))
                dx = undropped
            }
            if let dx { dy = BufferView(dx) }
        }
        self.tape = nil
        return (try dx.map { try fromTimeMajor(BufferView($0), steps: T, batch: B, features: weights[0][0].inputSize) },
                zip(dStates0, widths).map { Tensor(shape: [L * D, B, $1], view: BufferView($0), device: device) })
    }

    /// BPTT of one layer and direction: the time loop, then the weight gradients over all steps and dX (written
    /// into dx, or added to it when `accumulate`; nil: not wanted). `dy`: the direction's columns of dy; `gradStates`
    /// and `dStates0`: all layers' and directions', each [L*D, B, W].
    private func backwardDirection(_ t: DirectionTape, dy: BufferView, x: BufferView, gradStates: [Tensor?],
                                   dStates0: [DeviceBuffer], dx: BufferView?, accumulate: Bool) throws {
        var d = t.direction
        let be = device.backend, ws = workspace, w = d.weights, T = d.steps, B = d.batch, index = d.index
        let G = cell.gateCount * cell.hiddenSize, inSize = w.inputSize, R = cell.stateWidths[0], widths = cell.stateWidths
        // The running state gradients, each [B, W], from gradStates (or zero).
        let dStates = try widths.enumerated().map { i, width in
            let g = gradStates.count > i ? gradStates[i]?.view.advanced(by: index * B * width) : nil
            return BufferView(try ws.buffer("dstate\(i)", B * width, first: B * width, from: g))
        }
        let dgs = BufferView(try ws("dgs", T * B * G))
        (d.y, d.dgs) = (dy, dgs)
        let (dgxTime, b) = try cell.beginBackward(d, t.cell)
        // The per-step product's weight, prepared once: op(B) = W_hh [G, W_h].
        let whhStep = try StepOperand(be, b: w.whh, transB: false, k: G, n: R, ldb: R) { try ws("whhStep\(index)", $0) }
        for s in (0..<T).reversed() {
            try cell.backwardStep(s, d, t.cell, b, dStates: dStates, dgx: dgxTime)
            // dh_{s-1} += dgs[s] . W_hh
            try whhStep.gemm(be, m: B, a: dgs.advanced(by: s * B * G), lda: G, beta: 1, c: dStates[0], ldc: R)
        }
        for (i, ds) in dStates.enumerated() {
            // h0 fed the first recurrent gemm through the mask, if any (every sequence is valid at step 0).
            let out = BufferView(dStates0[i], index * B * widths[i])
            if i == 0, let mask = cell.recurrentDropout(t.cell)?.mask {
                try device.training.mul(count: B * R, x: ds, y: mask, out: out)
            } else {
                try be.copy(ds, to: out, count: B * widths[i])
            }
        }

        // Weight gradients over all steps at once.
        let done = try cell.finishBackward(d, t.cell, b, dgx: dgxTime)
        try be.gemm(transA: true, transB: false, m: G, n: inSize, k: T * B, alpha: 1,
                    a: done.dgx, lda: G, b: x, ldb: inSize, beta: 1, c: w.gwih, ldc: inSize)
        try be.gemm(transA: true, transB: false, m: G, n: R, k: T * B, alpha: 1,
                    a: dgs, lda: G, b: cell.recurrentDropout(t.cell)?.hm ?? d.states[0], ldb: R, beta: 1, c: w.gwhh, ldc: R)
        if let gbih = w.gbih, let gbhh = w.gbhh {
            if done.biasIH.buffer === done.biasHH.buffer {
                // Both bias gradients are the same column sums: one pass, then two adds (a one-row sum is out += row).
                let db = try ws("db", G)
                try be.columnSum(m: T * B, n: G, x: done.biasIH, ld: G, beta: 0, out: BufferView(db))
                try be.columnSum(m: 1, n: G, x: BufferView(db), ld: G, beta: 1, out: gbih)
                try be.columnSum(m: 1, n: G, x: BufferView(db), ld: G, beta: 1, out: gbhh)
            } else {
                try be.columnSum(m: T * B, n: G, x: done.biasIH, ld: G, beta: 1, out: gbih)
                try be.columnSum(m: T * B, n: G, x: done.biasHH, ld: G, beta: 1, out: gbhh)
            }
        }
        // dx = dG . W_ih (the second direction adds to the first).
        guard let dx else { return }
        try be.gemm(transA: false, transB: false, m: T * B, n: inSize, k: G, alpha: 1,
                    a: done.dgx, lda: G, b: w.wih, ldb: inSize, beta: accumulate ? 1 : 0, c: dx, ldc: inSize)
    }

    /// `t` ([T, B, F], batch-first [B, T, F]) time-major: itself, or transposed into the workspace buffer `key`.
    private func timeMajor(_ t: Tensor, _ key: String, steps T: Int, batch B: Int) throws -> BufferView {
        guard batchFirst else { return t.view }
        let F = t.shape[2], out = try workspace(key, T * B * F)
        try device.backend.transpose01(d0: B, d1: T, features: F, src: t.view, dst: BufferView(out))
        return BufferView(out)
    }

    /// A time-major [T, B, F] result as the caller's layout: itself, or transposed into a fresh [B, T, F] tensor.
    private func fromTimeMajor(_ y: BufferView, steps T: Int, batch B: Int, features F: Int) throws -> Tensor {
        guard batchFirst else { return Tensor(shape: [T, B, F], view: y, device: device) }
        let out = try device.backend.allocate(T * B * F)
        try device.backend.transpose01(d0: T, d1: B, features: F, src: y, dst: BufferView(out))
        return Tensor(shape: [B, T, F], view: BufferView(out), device: device)
    }
}
