/// The LSTM forward of the inference path (`predict`, `evaluate`, a layer outside training): what the training
/// forward computes, with the same primitives in the same order (so the same bits; see README "Inference"), but
/// keeping only what the next step needs. Per layer and direction: the input projection of all steps in one gemm,
/// then per step the recurrent product (W_hh prepared once, as `StepOperand` does for training) and
/// `lstmCellInfer`, which updates h, c [B, H] in place (the CPU runs those steps as one job,
/// `lstmInferSequence`; an OpenCL CPU device runs each step as one `lstmStepInfer`, product and cell fused, h
/// alternating between two buffers: docs/decisions/0029). No gates [T, B, 4H] and no state tapes [T+1, B, H] are
/// written; the last layer's output sequence is skipped when only the final state is wanted (`lastOnly`).
/// Runs every LSTM but a projection or layer-norm one (`supports`; those run the training forward).
enum LSTMInference {
    /// Its cell (`lstm_cell_infer`, CInference) is the default pair tanh / sigmoid; other activations run the training forward.
    static func supports(_ lstm: LSTM) -> Bool {
        lstm.projSize == 0 && !lstm.layerNorm && lstm.activation == .tanh && lstm.recurrentActivation == .sigmoid
    }

    /// - Returns: the output (as `LSTM.forward`'s: `[B, T, D*H]` batch-first, else `[T, B, D*H]`; nil with
    ///   `lastOnly`), h_n and c_n `[L*D, B, H]`. Zero initial state.
    static func forward(_ lstm: LSTM, _ input: Tensor, lengths: [Int]?, lastOnly: Bool) throws -> (output: Tensor?, h: Tensor, c: Tensor) {
        precondition(supports(lstm))
        let device = lstm.device, be = device.inference
        let checks = RecurrentInputChecks(device: device, inputSize: lstm.inputSize, batchFirst: lstm.batchFirst,
                                          stateCount: lstm.numLayers * lstm.numDirections, hiddenSize: lstm.hiddenSize)
        let (T, B) = try checks.input(input)
        let lens = try checks.lengths(lengths, batch: B, steps: T)
        let lengthsBuffer = try be.allocateIndices(lens.map { Int32($0) })
        let D = lstm.numDirections, H = lstm.hiddenSize, G = 4 * H, L = lstm.numLayers
        // Temporaries come from the layer's workspace (kept between calls, under keys of their own: the training
        // tape stays intact): fresh 52 MB of gx at preset L cost 8.5 ms of page faults a call (profile: the input
        // projection 36.9 ms in predict against 28.4 in the training forward, which reuses its buffers). As the
        // training forward, one call at a time per layer.
        let ws = lstm.engine.workspace
        var x = input.view
        if lstm.batchFirst {
            let xt = try ws("infer_xt", T * B * lstm.inputSize)
            try be.transpose01(d0: B, d1: T, features: lstm.inputSize, src: input.view, dst: BufferView(xt))
            x = BufferView(xt)
        }
        let hn = try be.allocate(L * D * B * H), cn = try be.allocate(L * D * B * H)
        let gx = try ws("infer_gx", T * B * G), r = try ws("infer_r", B * G)
        let h = try ws("infer_h", B * H), c = try ws("infer_c", B * H)
        // The fused step (one launch a step on CPU-type OpenCL devices) reads h of the last step and writes the other.
        let fuses = be.fusesInferenceStep(hidden: H)
        let h2 = fuses ? try ws("infer_h2", B * H) : nil
        var y: DeviceBuffer? = nil
        for l in 0..<L {
            let inSize = l == 0 ? lstm.inputSize : D * H
            let out: DeviceBuffer? = l == L - 1 && lastOnly ? nil : try be.allocate(T * B * D * H)
            for d in 0..<D {
                let suffix = "_l\(l)" + (d == 1 ? "_reverse" : "")
                func p(_ name: String) -> BufferView? { lstm.parameters[name + suffix]?.view }
                // x . W_ih^T for all steps, as the training forward makes it (transposed first where NN is the fast gemm).
                let wih = try StepOperand(be, b: p("weight_ih")!, transB: true, k: inSize, n: G, ldb: inSize, packs: false) { try be.allocate($0) }
                try wih.gemm(be, m: T * B, a: x, lda: inSize, beta: 0, c: BufferView(gx), ldc: G)
                let whh = try StepOperand(be, b: p("weight_hh")!, transB: true, k: H, n: G, ldb: H) { try be.allocate($0) }
                try be.fill(BufferView(h), count: B * H, value: 0)
                try be.fill(BufferView(c), count: B * H, value: 0)
                // The CPU runs all steps as one job (the same bits); else step by step.
                let oneJob = try whh.packed.map { packed in
                    try be.lstmInferSequence(batch: B, hidden: H, steps: T, reverse: d == 1, lengths: lengthsBuffer, gx: BufferView(gx),
                                             whhPacked: packed, biasIH: p("bias_ih"), biasHH: p("bias_hh"), h: BufferView(h), c: BufferView(c),
                                             r: BufferView(r), y: out.map { BufferView($0, d * H) }, ldy: D * H, cellClip: lstm.cellClip ?? 0,
                                             peephole: p("peephole_i"))
                } ?? false
                var hLast = h
                if !oneJob, let h2, whh.packed == nil, !whh.transB, whh.ldb == G {
                    // One launch a step: W_hh^T [H, 4H] as the NN gemm reads it, h ping-pongs between h and h2.
                    for s in 0..<T {
                        let next = s % 2 == 0 ? h2 : h
                        try be.lstmStepInfer(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: lengthsBuffer,
                                             gx: BufferView(gx), whhT: whh.b, biasIH: p("bias_ih"), biasHH: p("bias_hh"),
                                             hIn: BufferView(hLast), hOut: BufferView(next), c: BufferView(c),
                                             y: out.map { BufferView($0, d * H) }, ldy: D * H, cellClip: lstm.cellClip ?? 0,
                                             peephole: p("peephole_i"))
                        hLast = next
                    }
                } else {
                    for s in 0..<T where !oneJob {
                        try whh.gemm(be, m: B, a: BufferView(h), lda: H, beta: 0, c: BufferView(r), ldc: G)
                        try be.lstmCellInfer(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: lengthsBuffer,
                                             gx: BufferView(gx), r: BufferView(r), biasIH: p("bias_ih"), biasHH: p("bias_hh"), h: BufferView(h), c: BufferView(c),
                                             y: out.map { BufferView($0, d * H) }, ldy: D * H, cellClip: lstm.cellClip ?? 0,
                                             peephole: p("peephole_i"))
                    }
                }
                try be.copy(BufferView(hLast), to: BufferView(hn, (l * D + d) * B * H), count: B * H)
                try be.copy(BufferView(c), to: BufferView(cn, (l * D + d) * B * H), count: B * H)
            }
            if let out { x = BufferView(out) }
            y = out
        }
        var output: Tensor? = nil
        if let y {
            if lstm.batchFirst {
                let o = try be.allocate(T * B * D * H)
                try be.transpose01(d0: T, d1: B, features: D * H, src: BufferView(y), dst: BufferView(o))
                output = Tensor(shape: [B, T, D * H], view: BufferView(o), device: device)
            } else {
                output = Tensor(shape: [T, B, D * H], view: BufferView(y), device: device)
            }
        }
        return (output, Tensor(shape: [L * D, B, H], view: BufferView(hn), device: device),
                Tensor(shape: [L * D, B, H], view: BufferView(cn), device: device))
    }
}
