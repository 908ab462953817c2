extension GRULayer: ConfigurableLayer {
    /// Keras `GRU`'s config: `{"units": 64, "return_sequences": true, "return_state": false, "stateful": false}`
    /// (every field but units may be left out: false).
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

        public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false) {
            self.units = units
            self.returnSequences = returnSequences
            self.returnState = returnState
            self.stateful = stateful
        }

        /// The config of any GRU-cell `RecurrentLayer` (a `GRULayer`, or the layer a `Bidirectional` wraps).
        init(_ layer: RecurrentLayer) {
            self.init(units: layer.units, returnSequences: layer.returnSequences, returnState: layer.returnState, stateful: layer.stateful)
            activation = layer.activation
            recurrentActivation = layer.recurrentActivation
            goBackwards = layer.goBackwards
            dropout = layer.dropout
        }

        enum CodingKeys: String, CodingKey {
            case units, returnSequences = "return_sequences", returnState = "return_state", stateful
            case activation, recurrentActivation = "recurrent_activation", goBackwards = "go_backwards", dropout
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
        }
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
        let H = try check.dimension(units, "units")
        try check.fraction(dropout, "dropout")
        try check.cellActivations(activation, recurrentActivation)
        try check.requireRank(inputShape, 2, "[T, features]")
        try check.addParameters([[3 * H, inputShape[1]], [3 * H, H], [3 * H], [3 * H]])
        return returnSequences ? [inputShape[0], H] : [H]
    }
}
