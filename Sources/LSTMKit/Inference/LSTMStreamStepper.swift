/// An `LSTM` core for one step, on the fused `lstmStreamStep`: per layer one call (CPU: one C call, recurrent
/// product on W_hh^T packed once and the cell; OpenCL: one launch), plus the input projection's gemm for the layers
/// it does not take from a table. After an `Embedding`, the first layer's input projection is a table
/// E . W_ih^T + b_ih + b_hh [V, 4H], made once, and each step reads row `id` of it: no gemm, no copy.
/// One direction, no projection, no layer norm (`supports`); peepholes and cell clipping are fused.
/// State: h, c [L, B, H]. The CPU updates it in place; OpenCL writes the other pair of buffers and swaps.
final class LSTMStreamStepper: StreamStepper {
    struct LayerWeights {
        let inputSize: Int
        let wih, whh: BufferView
        let bih, bhh, peephole: BufferView?
        let prepared: DeviceBuffer?
        let gx: DeviceBuffer  // [B, 4H]
    }
    let device: Device, batch: Int, hidden: Int, layers: [LayerWeights]
    let table: DeviceBuffer?
    let cellClip: Double
    let scratch: DeviceBuffer
    let inPlace: Bool
    /// OpenCL at batch >= 4: the tiled gemm for the recurrent product, then `lstmCellInfer` in place (the fused
    /// kernel's per-unit dot products read W_hh once per row: at batch 32 on PoCL 14.7 ms per step).
    let gemmPath: Bool
    let ones: DeviceBuffer?  // gemmPath: lengths [B], all 1
    private var spare: [Tensor] = []
    var outputWidth: Int { hidden }

    /// Whether this stepper runs `core` (else `CoreStreamStepper` does, through the training forward).
    static func supports(_ core: LSTM) -> Bool {
        core.numDirections == 1 && core.projSize == 0 && !core.layerNorm && core.activation == .tanh && core.recurrentActivation == .sigmoid
    }

    /// The largest input-projection table (floats) made for an Embedding before the LSTM (64 MB).
    static let tableLimit = 16 << 20

    init(_ core: LSTM, batch: Int, embedding: Embedding?) throws {
        precondition(Self.supports(core))
        device = core.device
        self.batch = batch
        hidden = core.hiddenSize
        cellClip = core.cellClip ?? 0
        let be = device.inference, H = hidden, G = 4 * H
        gemmPath = device.isOpenCL && batch >= 4
        inPlace = !device.isOpenCL || gemmPath
        ones = gemmPath ? try be.allocateIndices([Int32](repeating: 1, count: batch)) : nil
        layers = try (0..<core.numLayers).map { l in
            func p(_ name: String) -> BufferView? { core.parameters[name + "_l\(l)"]?.view }
            let wih = core.parameters["weight_ih_l\(l)"]!
            var prepared: DeviceBuffer? = nil
            if let count = be.streamWeightCount(hidden: H) {
                prepared = try be.allocate(count)
                try be.prepareStreamWeight(hidden: H, whh: p("weight_hh")!, into: prepared!)
            }
            return LayerWeights(inputSize: wih.shape[1], wih: wih.view, whh: p("weight_hh")!, bih: p("bias_ih"), bhh: p("bias_hh"),
                                peephole: p("peephole_i"), prepared: prepared, gx: try be.allocate(batch * G))
        }
        if let embedding, let e = embedding.namedParameters.first?.tensor {
            let V = embedding.inputDim, w = layers[0]
            let t = try be.allocate(V * G)
            try be.gemm(transA: false, transB: true, m: V, n: G, k: w.inputSize, alpha: 1, a: e.view, lda: w.inputSize,
                        b: w.wih, ldb: w.inputSize, beta: 0, c: BufferView(t), ldc: G)
            if let bih = w.bih, let bhh = w.bhh {
                try be.addRowBias(rows: V, cols: G, bias: bih, y: BufferView(t))
                try be.addRowBias(rows: V, cols: G, bias: bhh, y: BufferView(t))
            }
            table = t
        } else {
            table = nil
        }
        scratch = try be.allocate(batch * G)
        if !inPlace { spare = try initialState() }
    }

    func initialState() throws -> [Tensor] {
        [try Tensor.zeros([layers.count, batch, hidden], device: device), try Tensor.zeros([layers.count, batch, hidden], device: device)]
    }

    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView {
        let be = device.inference, B = batch, H = hidden, G = 4 * H
        let (hIn, cIn) = (state[0], state[1])
        let (hOut, cOut) = inPlace ? (hIn, cIn) : (spare[0], spare[1])
        var input = x
        for (l, w) in layers.enumerated() {
            let offset = l * B * H
            if gemmPath, let ones {
                // gx [B, 4H]: rows of the table (biases in it), or the input projection; then r = h . W_hh^T and the cell.
                let fromTable = l == 0 && table != nil
                if fromTable {
                    try be.embeddingForward(count: B, dim: G, ids: x, table: BufferView(table!), out: w.gx)
                } else {
                    try be.gemm(transA: false, transB: true, m: B, n: G, k: w.inputSize, alpha: 1, a: input, lda: w.inputSize,
                                b: w.wih, ldb: w.inputSize, beta: 0, c: BufferView(w.gx), ldc: G)
                }
                try be.gemm(transA: false, transB: true, m: B, n: G, k: H, alpha: 1, a: hIn.view.advanced(by: offset), lda: H,
                            b: w.whh, ldb: H, beta: 0, c: BufferView(scratch), ldc: G)
                try be.lstmCellInfer(batch: B, hidden: H, steps: 1, step: 0, reverse: false, lengths: ones, gx: BufferView(w.gx),
                                     r: BufferView(scratch), biasIH: fromTable ? nil : w.bih, biasHH: fromTable ? nil : w.bhh,
                                     h: hIn.view.advanced(by: offset), c: cIn.view.advanced(by: offset), y: nil, ldy: G,
                                     cellClip: cellClip, peephole: w.peephole)
                input = hIn.view.advanced(by: offset)
                continue
            }
            if l == 0, let table {
                try be.lstmStreamStep(batch: B, hidden: H, gx: BufferView(table), ldgx: G, ids: x, whh: w.whh, prepared: w.prepared,
                                      biasIH: nil, biasHH: nil, hIn: hIn.view.advanced(by: offset), cIn: cIn.view.advanced(by: offset),
                                      hOut: hOut.view.advanced(by: offset), cOut: cOut.view.advanced(by: offset), scratch: scratch,
                                      cellClip: cellClip, peephole: w.peephole)
            } else {
                try be.gemm(transA: false, transB: true, m: B, n: G, k: w.inputSize, alpha: 1, a: input, lda: w.inputSize,
                            b: w.wih, ldb: w.inputSize, beta: 0, c: BufferView(w.gx), ldc: G)
                try be.lstmStreamStep(batch: B, hidden: H, gx: BufferView(w.gx), ldgx: G, ids: nil, whh: w.whh, prepared: w.prepared,
                                      biasIH: w.bih, biasHH: w.bhh, hIn: hIn.view.advanced(by: offset), cIn: cIn.view.advanced(by: offset),
                                      hOut: hOut.view.advanced(by: offset), cOut: cOut.view.advanced(by: offset), scratch: scratch,
                                      cellClip: cellClip, peephole: w.peephole)
            }
            input = hOut.view.advanced(by: offset)
        }
        if !inPlace {
            state[0] = hOut; state[1] = cOut
            spare[0] = hIn; spare[1] = cIn
        }
        return input
    }
}
