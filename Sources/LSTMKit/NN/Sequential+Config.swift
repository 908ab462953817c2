extension Sequential: ConfigurableLayer {
    /// A `Sequential` used as a layer: `{"layers": [{"class_name": ..., "config": ...}, ...]}` (Keras's
    /// `Sequential` config without its name).
    public struct Config: Codable, Equatable, Sendable {
        public var layers: [AnyLayerConfig]
        public init(layers: [AnyLayerConfig]) { self.layers = layers }
    }

    public static var kerasClassName: String { "Sequential" }
    public var config: Config { Config(layers: layers.map { AnyLayerConfig(layer: $0) }) }

    /// A nested model on the device of the model being loaded (`loadingDevice`), `.cpu` otherwise.
    public convenience init(config: Config) throws {
        self.init(try config.layers.map { try $0.makeLayer() }, device: Sequential.loadingDevice)
    }

    /// The device `Sequential.load(from:device:)` builds on, for the `Sequential`s nested in the model it loads.
    @TaskLocal static var loadingDevice: Device = .cpu
}

extension Sequential.Config: CheckedLayerConfig {
    /// Each layer in turn; at least one.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard !layers.isEmpty else { throw check.field("layers", "[]", "a Sequential needs at least one layer") }
        var shape = inputShape
        for (i, layer) in layers.enumerated() { shape = try check.check(layer, field: "layers", index: i, inputShape: shape) }
        return shape
    }
}
