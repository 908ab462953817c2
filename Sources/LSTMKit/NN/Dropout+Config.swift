extension Dropout: ConfigurableLayer {
    /// Keras `Dropout`'s config: `{"rate": 0.2}`.
    public struct Config: Codable, Equatable, Sendable {
        public var rate: Double
        public init(rate: Double) { self.rate = rate }
    }

    public static var kerasClassName: String { "Dropout" }
    public var config: Config { Config(rate: rate) }
    public convenience init(config: Config) throws { self.init(config.rate) }
}

extension Dropout.Config: CheckedLayerConfig {
    /// The shape is unchanged; no parameters.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        try check.fraction(rate, "rate")
        return inputShape
    }
}
