/// Input validation shared by the recurrent layers: shapes, lengths and initial states, with typed errors.
struct RecurrentInputChecks {
    let device: Device
    let inputSize: Int
    let batchFirst: Bool
    /// numLayers * numDirections.
    let stateCount: Int
    let hiddenSize: Int

    func device(_ t: Tensor, _ what: String) throws {
        guard t.device == device else {
            throw LSTMKitError.deviceMismatch(what: what, expected: device.description, got: t.device.description)
        }
    }

    /// Validates the input and returns (T, B).
    func input(_ input: Tensor) throws -> (Int, Int) {
        try device(input, "input")
        let expected = batchFirst ? "[B, T, \(inputSize)]" : "[T, B, \(inputSize)]"
        guard input.shape.count == 3, input.shape[2] == inputSize else {
            throw LSTMKitError.shapeMismatch(what: "input", expected: expected, got: input.shape)
        }
        let (T, B) = batchFirst ? (input.shape[1], input.shape[0]) : (input.shape[0], input.shape[1])
        if B == 0 { throw LSTMKitError.emptyBatch(what: "batch (B = 0) in input of shape \(input.shape)") }
        if T == 0 { throw LSTMKitError.emptyBatch(what: "sequence (T = 0) in input of shape \(input.shape)") }
        return (T, B)
    }

    func lengths(_ lengths: [Int]?, batch B: Int, steps T: Int) throws -> [Int] {
        guard let lengths else { return Array(repeating: T, count: B) }
        guard lengths.count == B else {
            throw LSTMKitError.shapeMismatch(what: "lengths", expected: "[\(B)] (one per sequence)", got: [lengths.count])
        }
        for (i, n) in lengths.enumerated() where n < 1 || n > T {
            throw LSTMKitError.invalidLength(index: i, length: n, maxLength: T)
        }
        return lengths
    }

    /// A state tensor `[L*D, B, width]` (width: the hidden size, or an LSTM's projection size for h).
    func state(_ t: Tensor, _ what: String, batch B: Int, width: Int? = nil) throws {
        try device(t, what)
        let expected = [stateCount, B, width ?? hiddenSize]
        guard t.shape == expected else { throw LSTMKitError.shapeMismatch(what: what, expected: "\(expected)", got: t.shape) }
    }

    /// States (or their gradients) named `names`, each `[L*D, B, widths[i]]`; nil entries are not checked.
    func states(_ states: [Tensor?], names: [String], batch B: Int, widths: [Int]) throws {
        for (i, s) in states.enumerated() where i < widths.count {
            if let s { try state(s, names[i], batch: B, width: widths[i]) }
        }
    }

    /// The gradient w.r.t. the output, `[T, B, features]` (batch-first: `[B, T, features]`); nil: zero, not checked.
    func gradOutput(_ g: Tensor?, steps T: Int, batch B: Int, features F: Int) throws {
        guard let g else { return }
        try device(g, "gradOutput")
        let expected = batchFirst ? [B, T, F] : [T, B, F]
        guard g.shape == expected else { throw LSTMKitError.shapeMismatch(what: "gradOutput", expected: "\(expected)", got: g.shape) }
    }

    /// The sizes and the between-layer dropout of a recurrent core (LSTM, GRU).
    static func sizes(inputSize: Int, hiddenSize: Int, numLayers: Int, dropout: Double) throws {
        for (name, value) in [("inputSize", inputSize), ("hiddenSize", hiddenSize), ("numLayers", numLayers)] where value < 1 {
            throw LSTMKitError.invalidArgument(name: name, value: "\(value)", reason: "must be at least 1")
        }
        guard dropout >= 0, dropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "dropout", value: "\(dropout)", reason: "must be in [0, 1)")
        }
    }

    /// The activations a recurrent cell runs: those whose derivative the cell's backward gets from the output
    /// (softmax is row-wise; elu, selu, softplus and gelu are Dense's).
    static func activations(_ activation: Activation, _ recurrentActivation: Activation) throws {
        let cell: Set<Activation> = [.tanh, .sigmoid, .relu, .hardSigmoid, .linear]
        for (name, value) in [("activation", activation), ("recurrentActivation", recurrentActivation)] where !cell.contains(value) {
            throw LSTMKitError.invalidArgument(name: name, value: value.rawValue,
                                               reason: "a recurrent cell takes tanh, sigmoid, relu, hard_sigmoid or linear")
        }
    }

    /// An LSTM's sizes, dropout, variants and activations, in this order (the layer-normalised cell runs tanh and
    /// sigmoid only; `projSize` is 0 or less than hiddenSize, as PyTorch's proj_size).
    static func lstm(inputSize: Int, hiddenSize: Int, numLayers: Int, dropout: Double, projSize: Int, layerNorm: Bool,
                     cellClip: Double?, recurrentDropout: Double, activation: Activation, recurrentActivation: Activation) throws {
        try RecurrentInputChecks.activations(activation, recurrentActivation)
        if layerNorm, activation != .tanh || recurrentActivation != .sigmoid {
            let (name, value) = activation != .tanh ? ("activation", activation) : ("recurrentActivation", recurrentActivation)
            throw LSTMKitError.invalidArgument(name: name, value: value.rawValue,
                                               reason: "the layer-normalised cell runs tanh and sigmoid only (layerNorm: true)")
        }
        if let clip = cellClip, !(clip > 0) {
            throw LSTMKitError.invalidArgument(name: "cellClip", value: "\(clip)", reason: "must be > 0 (nil turns clipping off)")
        }
        try RecurrentInputChecks.sizes(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout)
        guard projSize >= 0, projSize < hiddenSize else {
            throw LSTMKitError.invalidArgument(name: "projSize", value: "\(projSize)",
                                               reason: "must be 0 (off) or less than hiddenSize \(hiddenSize), as PyTorch's proj_size")
        }
        guard recurrentDropout >= 0, recurrentDropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "recurrentDropout", value: "\(recurrentDropout)", reason: "must be in [0, 1)")
        }
    }
}
