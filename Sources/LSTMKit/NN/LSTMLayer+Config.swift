extension LSTMLayer: ConfigurableLayer {
    /// Keras `LSTM`'s config, with the variants Keras has not: the fields every recurrent layer has
    /// (`RecurrentLayer.CommonConfig`, read and written as this config's own: `units`, `return_sequences`, ...), then
    /// `{"recurrent_dropout": 0, "proj_size": 0, "peephole": false, "layer_norm": false}` and `"cell_clip"` when set.
    /// Every field but units may be left out (the defaults of `LSTMLayer.init`). `proj_size` is PyTorch's name;
    /// `peephole`, `layer_norm` and `cell_clip` are LSTMKit's.
    public struct Config: RecurrentLayerConfig, Codable, Equatable, Sendable {
        public var common: RecurrentLayer.CommonConfig
        public var recurrentDropout = 0.0
        public var cellClip: Double? = nil
        public var projSize = 0
        public var peephole = false
        public var layerNorm = false

        public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                    recurrentDropout: Double = 0, cellClip: Double? = nil, projSize: Int = 0, peephole: Bool = false,
                    layerNorm: Bool = false) {
            common = .init(units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful)
            self.recurrentDropout = recurrentDropout
            self.cellClip = cellClip
            self.projSize = projSize
            self.peephole = peephole
            self.layerNorm = layerNorm
        }

        /// The config of any LSTM-cell `RecurrentLayer` (an `LSTMLayer`, or the layer a `Bidirectional` wraps).
        init(_ layer: RecurrentLayer) {
            common = .init(layer)
            let o = layer.options
            (recurrentDropout, cellClip, projSize, peephole, layerNorm) = (o.recurrentDropout, o.cellClip, o.projSize, o.peephole, o.layerNorm)
        }

        /// LSTM's own keys; the common ones are `RecurrentLayer.CommonConfig`'s, in the same JSON object.
        enum CodingKeys: String, CodingKey {
            case recurrentDropout = "recurrent_dropout", cellClip = "cell_clip", projSize = "proj_size", peephole, layerNorm = "layer_norm"
        }

        public init(from decoder: Decoder) throws {
            common = try .init(from: decoder)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            recurrentDropout = try c.decodeIfPresent(Double.self, forKey: .recurrentDropout) ?? 0
            cellClip = try c.decodeIfPresent(Double.self, forKey: .cellClip)
            projSize = try c.decodeIfPresent(Int.self, forKey: .projSize) ?? 0
            peephole = try c.decodeIfPresent(Bool.self, forKey: .peephole) ?? false
            layerNorm = try c.decodeIfPresent(Bool.self, forKey: .layerNorm) ?? false
        }

        public func encode(to encoder: Encoder) throws {
            try common.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(recurrentDropout, forKey: .recurrentDropout)
            try c.encodeIfPresent(cellClip, forKey: .cellClip)
            try c.encode(projSize, forKey: .projSize)
            try c.encode(peephole, forKey: .peephole)
            try c.encode(layerNorm, forKey: .layerNorm)
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
        let H = try check.dimension(common.units, "units")
        guard projSize >= 0, projSize < H else { throw check.field("proj_size", projSize, "must be 0 (off) or less than units \(H)") }
        if let cellClip, !(cellClip.isFinite && cellClip > 0) {
            throw check.field("cell_clip", cellClip, "must be a finite number > 0 (leave it out to turn clipping off)")
        }
        try check.fraction(recurrentDropout, "recurrent_dropout")
        try check.fraction(common.dropout, "dropout")
        try check.cellActivations(common.activation, common.recurrentActivation)
        try check.requireRank(inputShape, 2, "[T, features]")
        let G = 4 * H, R = projSize > 0 ? projSize : H
        var tensors: [[Int]] = [[G, inputShape[1]], [G, R], [G], [G]]
        if projSize > 0 { tensors.append([projSize, H]) }
        if peephole { tensors.append([3, H]) }
        if layerNorm { tensors += [[4, G], [2, H]] }
        try check.addParameters(tensors)
        return common.returnSequences ? [inputShape[0], R] : [R]
    }
}
