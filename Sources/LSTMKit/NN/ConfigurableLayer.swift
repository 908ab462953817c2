/// A layer that saves its architecture as a Keras-style `{"class_name": ..., "config": {...}}` entry.
public protocol ConfigurableLayer: Layer {
    associatedtype Config: Codable, Equatable, Sendable
    /// Keras's class name ("Dense", "LSTM", "Conv2D", ...): the `class_name` in model.json.
    static var kerasClassName: String { get }
    /// Everything needed to rebuild the layer (not its weights).
    var config: Config { get }
    init(config: Config) throws
}
