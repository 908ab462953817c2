extension LSTMLayer: ConfigurableLayer {
    /// Keras `LSTM`'s config, with the variants Keras has not: `{"units": 64, "return_sequences": true,
    /// "return_state": false, "stateful": false, "recurrent_dropout": 0, "proj_size": 0, "peephole": false,
    /// "layer_norm": false}` and `"cell_clip"` when set. Every field but units may be left out (the defaults of
    /// `LSTMLayer.init`). `proj_size` is PyTorch's name; `peephole`, `layer_norm` and `cell_clip` are LSTMKit's.
    public struct Config: Codable, Equatable, Sendable {
        public var units: Int
        public var returnSequences = false
        public var returnState = false
        public var stateful = false
        /// Keras's `activation`, `recurrent_activation`, `go_backwards` and input `dropout` (saved since version 2
        /// files of 2026-12-01; older files take the defaults). The initialisers are not saved: loading overwrites them.
        public var activation: Activation = .tanh
        public var recurrentActivation: Activation = .sigmoid
        public var goBackwards = false
        public var dropout = 0.0
        public var recurrentDropout = 0.0
        public var cellClip: Double? = nil
        public var projSize = 0
        public var peephole = false
        public var layerNorm = false

        public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                    recurrentDropout: Double = 0, cellClip: Double? = nil, projSize: Int = 0, peephole: Bool = false,
                    layerNorm: Bool = false) {
            self.units = units
            self.returnSequences = returnSequences
            self.returnState = returnState
            self.stateful = stateful
            self.recurrentDropout = recurrentDropout
            self.cellClip = cellClip
            self.projSize = projSize
            self.peephole = peephole
            self.layerNorm = layerNorm
        }

        /// The config of any LSTM-cell `RecurrentLayer` (an `LSTMLayer`, or the layer a `Bidirectional` wraps).
        init(_ layer: RecurrentLayer) {
            self.init(units: layer.units, returnSequences: layer.returnSequences, returnState: layer.returnState, stateful: layer.stateful,
                      recurrentDropout: layer.options.recurrentDropout, cellClip: layer.options.cellClip, projSize: layer.options.projSize,
                      peephole: layer.options.peephole, layerNorm: layer.options.layerNorm)
            activation = layer.activation
            recurrentActivation = layer.recurrentActivation
            goBackwards = layer.goBackwards
            dropout = layer.dropout
        }

        enum CodingKeys: String, CodingKey {
            case units, returnSequences = "return_sequences", returnState = "return_state", stateful
            case activation, recurrentActivation = "recurrent_activation", goBackwards = "go_backwards", dropout
            case recurrentDropout = "recurrent_dropout", cellClip = "cell_clip", projSize = "proj_size", peephole, layerNorm = "layer_norm"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            units = try c.decode(Int.self, forKey: .units)
            returnSequences = try c.decodeIfPresent(Bool.self, forKey: .returnSequences) ?? false
            returnState = try c.decodeIfPresent(Bool.self, forKey: .returnState) ?? false
            stateful = try c.decodeIfPresent(Bool.self, forKey: .stateful) ?? false
            activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .tanh
            recurrentActivation = try c.decodeIfPresent(Activation.self, forKey: .recurrentActivation) ?? .sigmoid
            goBackwards = try c.decodeIfPresent(Bool.self, forKey: .goBackwards) ?? false
            dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
            recurrentDropout = try c.decodeIfPresent(Double.self, forKey: .recurrentDropout) ?? 0
            cellClip = try c.decodeIfPresent(Double.self, forKey: .cellClip)
            projSize = try c.decodeIfPresent(Int.self, forKey: .projSize) ?? 0
            peephole = try c.decodeIfPresent(Bool.self, forKey: .peephole) ?? false
            layerNorm = try c.decodeIfPresent(Bool.self, forKey: .layerNorm) ?? false
        }
    }

    public static var kerasClassName: String { "LSTM" }
    public var config: Config { Config(self) }
    public convenience init(config c: Config) throws {
        self.init(units: c.units, returnSequences: c.returnSequences, returnState: c.returnState, stateful: c.stateful,
                  recurrentDropout: c.recurrentDropout, cellClip: c.cellClip, projSize: c.projSize, peephole: c.peephole, layerNorm: c.layerNorm,
                  activation: c.activation, recurrentActivation: c.recurrentActivation, goBackwards: c.goBackwards, dropout: c.dropout)
    }
}

extension LSTMLayer.Config: CheckedLayerConfig {
    /// `[T, F]` to `[T, R]` with return_sequences, else `[R]` (R: proj_size when set, else units); the parameters
    /// of PyTorch's `nn.LSTM` (one direction) and of the variants.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        let H = try check.dimension(units, "units")
        guard projSize >= 0, projSize < H else { throw check.field("proj_size", projSize, "must be 0 (off) or less than units \(H)") }
        if let cellClip, !(cellClip.isFinite && cellClip > 0) {
            throw check.field("cell_clip", cellClip, "must be a finite number > 0 (leave it out to turn clipping off)")
        }
        try check.fraction(recurrentDropout, "recurrent_dropout")
        try check.fraction(dropout, "dropout")
        try check.cellActivations(activation, recurrentActivation)
        try check.requireRank(inputShape, 2, "[T, features]")
        let G = 4 * H, R = projSize > 0 ? projSize : H
        var tensors: [[Int]] = [[G, inputShape[1]], [G, R], [G], [G]]
        if projSize > 0 { tensors.append([projSize, H]) }
        if peephole { tensors.append([3, H]) }
        if layerNorm { tensors += [[4, G], [2, H]] }
        try check.addParameters(tensors)
        return returnSequences ? [inputShape[0], R] : [R]
    }
}
