extension Input: ConfigurableLayer {
    /// Keras's `InputLayer` config (`batch_shape` without the batch: `shape`).
    public struct Config: Codable, Equatable, Sendable {
        public var shape: [Int]
        public init(shape: [Int]) { self.shape = shape }
    }
    public static var kerasClassName: String { "InputLayer" }
    public var config: Config { Config(shape: shape) }
    public convenience init(config: Config) throws {
        guard !config.shape.isEmpty, config.shape.allSatisfy({ $0 >= 1 }) else {
            throw LSTMKitError.invalidArgument(name: "InputLayer.shape", value: "\(config.shape)", reason: "needs at least one dimension, each >= 1")
        }
        self.init(shape: config.shape)
    }
}
