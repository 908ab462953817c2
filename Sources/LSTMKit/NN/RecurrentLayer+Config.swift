extension RecurrentLayer {
    /// The model.json entry of the layer: an `LSTM` or `GRU` by its cell (also for the layer inside a
    /// `Bidirectional`, which is a plain `RecurrentLayer`).
    var anyLayerConfig: AnyLayerConfig {
        switch cell {
        case .lstm: return AnyLayerConfig(LSTMLayer.self, config: LSTMLayer.Config(self))
        case .gru: return AnyLayerConfig(GRULayer.self, config: GRULayer.Config(self))
        }
    }

    /// The config fields Keras's `LSTM` and `GRU` share: `{"units": 64, "return_sequences": true, "return_state":
    /// false, "stateful": false, "activation": "tanh", "recurrent_activation": "sigmoid", "go_backwards": false,
    /// "dropout": 0}`; every field but units may be left out (the defaults). `LSTMLayer.Config` and
    /// `GRULayer.Config` hold it as `common` and read and write its fields as their own (`RecurrentLayerConfig`),
    /// in one JSON object with theirs.
    public struct CommonConfig: Codable, Equatable, Sendable {
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

        /// The fields of any `RecurrentLayer`.
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
}
