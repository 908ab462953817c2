extension GRULayer: ConfigurableLayer {
    /// Keras `GRU`'s config: the fields every recurrent layer has (`RecurrentLayer.CommonConfig`, read and written as
    /// this config's own: `units`, `return_sequences`, ...), and no others.
    public struct Config: RecurrentLayerConfig, Codable, Equatable, Sendable {
        public var common: RecurrentLayer.CommonConfig

        public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false) {
            common = .init(units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful)
        }

        /// The config of any GRU-cell `RecurrentLayer` (a `GRULayer`, or the layer a `Bidirectional` wraps).
        init(_ layer: RecurrentLayer) { common = .init(layer) }

        public init(from decoder: Decoder) throws { common = try .init(from: decoder) }
        public func encode(to encoder: Encoder) throws { try common.encode(to: encoder) }
    }

    public static var kerasClassName: String { "GRU" }
    public var config: Config { Config(self) }
    public convenience init(config c: Config) throws {
        self.init(units: c.units, returnSequences: c.returnSequences, returnState: c.returnState, stateful: c.stateful,
                  activation: c.activation, recurrentActivation: c.recurrentActivation, goBackwards: c.goBackwards, dropout: c.dropout)
    }
}

extension GRULayer.Config: CheckedLayerConfig {
    /// `[T, F]` to `[T, units]` with return_sequences, else `[units]`; the parameters of PyTorch's `nn.GRU`.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        let H = try check.dimension(common.units, "units")
        try check.fraction(common.dropout, "dropout")
        try check.cellActivations(common.activation, common.recurrentActivation)
        try check.requireRank(inputShape, 2, "[T, features]")
        try check.addParameters([[3 * H, inputShape[1]], [3 * H, H], [3 * H], [3 * H]])
        return common.returnSequences ? [inputShape[0], H] : [H]
    }
}
