extension Masking: ConfigurableLayer {
    /// Keras's `Masking` config.
    public struct Config: Codable, Equatable, Sendable {
        public var maskValue: Double
        enum CodingKeys: String, CodingKey { case maskValue = "mask_value" }
        public init(maskValue: Double) { self.maskValue = maskValue }
    }
    public static var kerasClassName: String { "Masking" }
    public var config: Config { Config(maskValue: maskValue) }
    public convenience init(config: Config) throws {
        guard config.maskValue.isFinite else {
            throw LSTMKitError.invalidArgument(name: "Masking.mask_value", value: "\(config.maskValue)", reason: "must be finite")
        }
        self.init(maskValue: config.maskValue)
    }
}
