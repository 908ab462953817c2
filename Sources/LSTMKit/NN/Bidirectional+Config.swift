extension Bidirectional: ConfigurableLayer {
    /// Keras `Bidirectional`'s config: `{"layer": {"class_name": "LSTM", "config": {...}}, "merge_mode": "concat"}`.
    /// merge_mode is concat, sum, mul or average (Keras's "ave" is read as average) and may be left out: concat.
    public struct Config: Codable, Equatable, Sendable {
        /// An `LSTM` or `GRU` entry.
        public var layer: AnyLayerConfig
        public var mergeMode: MergeMode

        public init(layer: AnyLayerConfig, mergeMode: MergeMode = .concat) {
            self.layer = layer
            self.mergeMode = mergeMode
        }

        enum CodingKeys: String, CodingKey {
            case layer, mergeMode = "merge_mode"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            layer = try c.decode(AnyLayerConfig.self, forKey: .layer)
            let mode = try c.decodeIfPresent(String.self, forKey: .mergeMode) ?? "concat"
            guard let m = mode == "ave" ? .average : MergeMode(rawValue: mode) else {
                throw ConfigFieldError(codingPath: decoder.codingPath + [CodingKeys.mergeMode], value: mode,
                                       reason: "must be concat, sum, mul or average")
            }
            mergeMode = m
        }
    }

    public static var kerasClassName: String { "Bidirectional" }
    public var config: Config { Config(layer: layer.anyLayerConfig, mergeMode: mergeMode) }
    public convenience init(config: Config) throws {
        guard let inner = try config.layer.makeLayer() as? RecurrentLayer else {
            throw LSTMKitError.invalidArgument(name: "Bidirectional.layer", value: config.layer.className, reason: "must be LSTM or GRU")
        }
        self.init(inner, mergeMode: config.mergeMode)
    }
}

extension Bidirectional.Config: CheckedLayerConfig {
    /// The wrapped layer's shape with its last dimension doubled by concat; its parameters twice (the reverse direction).
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard layer.layerType.map({ $0 is RecurrentLayer.Type }) == true else {
            throw check.field("layer", layer.className, "Bidirectional wraps an LSTM or GRU layer")
        }
        let before = check.parameters
        var shape = try check.check(layer, field: "layer", inputShape: inputShape)
        try check.addParameters([[check.parameters - before]])
        if mergeMode == .concat, let width = shape.popLast() { shape.append(2 * width) }
        return shape
    }
}
