extension Dense: ConfigurableLayer {
    /// Keras `Dense`'s config: `{"units": 8, "activation": "relu", "use_bias": true}` (activation and use_bias
    /// may be left out: linear, true).
    public struct Config: Codable, Equatable, Sendable {
        public var units: Int
        public var activation: Activation
        public var useBias: Bool

        public init(units: Int, activation: Activation = .linear, useBias: Bool = true) {
            self.units = units
            self.activation = activation
            self.useBias = useBias
        }

        enum CodingKeys: String, CodingKey {
            case units, activation, useBias = "use_bias"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            units = try c.decode(Int.self, forKey: .units)
            activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .linear
            useBias = try c.decodeIfPresent(Bool.self, forKey: .useBias) ?? true
        }
    }

    public static var kerasClassName: String { "Dense" }
    public var config: Config { Config(units: units, activation: activation, useBias: useBias) }
    public convenience init(config: Config) throws {
        self.init(units: config.units, activation: config.activation, useBias: config.useBias)
    }
}

extension Dense.Config: CheckedLayerConfig {
    /// `[..., F]` to `[..., units]`; weight `[units, F]`, bias `[units]`.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        try check.dimension(units, "units")
        guard let features = inputShape.last else { throw check.layer("needs [..., features] per sample, but gets shape []") }
        try check.addParameters([[units, features]] + (useBias ? [[units]] : []))
        return inputShape.dropLast() + [units]
    }
}
