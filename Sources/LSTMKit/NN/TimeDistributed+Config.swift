extension TimeDistributed: ConfigurableLayer {
    /// Keras `TimeDistributed`'s config: `{"layer": {"class_name": "Dense", "config": {...}}}`.
    public struct Config: Codable, Equatable, Sendable {
        /// The entry of the layer applied at every step.
        public var layer: AnyLayerConfig
        public init(layer: AnyLayerConfig) { self.layer = layer }
    }

    public static var kerasClassName: String { "TimeDistributed" }
    public var config: Config { Config(layer: AnyLayerConfig(inner)) }
    public convenience init(config: Config) throws {
        guard let inner = try config.layer.makeLayer() as? Dense else {
            throw LSTMKitError.invalidArgument(name: "TimeDistributed.layer", value: config.layer.className, reason: "must be Dense")
        }
        self.init(inner)
    }
}

extension TimeDistributed.Config: CheckedLayerConfig {
    /// `[T, ...]` to `[T] +` the wrapped layer's output for one step's `[...]`; the wrapped layer is a Dense
    /// (what `init(config:)` accepts).
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard layer.layerType.map({ $0 is Dense.Type }) == true else {
            throw check.field("layer", layer.className, "TimeDistributed wraps a Dense layer")
        }
        guard inputShape.count >= 2 else { throw check.layer("needs [T, features] per sample, but gets shape \(inputShape)") }
        return try [inputShape[0]] + check.check(layer, field: "layer", inputShape: Array(inputShape.dropFirst()))
    }
}
