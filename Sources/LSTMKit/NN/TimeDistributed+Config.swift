extension TimeDistributed: ConfigurableLayer {
    /// Keras `TimeDistributed`'s config: `{"layer": {"class_name": "Dense", "config": {...}}}`.
    public struct Config: Codable, Equatable, Sendable {
        /// The entry of the layer applied at every step.
        public var layer: AnyLayerConfig
        public init(layer: AnyLayerConfig) { self.layer = layer }
    }

    public static var kerasClassName: String { "TimeDistributed" }
    public var config: Config { Config(layer: AnyLayerConfig(layer: inner)) }
    public convenience init(config: Config) throws {
        self.init(try config.layer.makeLayer())
    }
}

extension TimeDistributed.Config: CheckedLayerConfig {
    /// `[T, ...]` to `[T] +` the wrapped layer's output for one step's `[...]`.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard inputShape.count >= 2 else { throw check.layer("needs [T, features] per sample, but gets shape \(inputShape)") }
        return try [inputShape[0]] + check.check(layer, field: "layer", inputShape: Array(inputShape.dropFirst()))
    }
}
