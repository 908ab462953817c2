/// A layer that saves its architecture as a Keras-style `{"class_name": ..., "config": {...}}` entry.
///
/// `Sequential.save(to:)` writes every layer as its `kerasClassName` and `config` (see `AnyLayerConfig`);
/// `Sequential.load(from:)` finds the type by that name in `LayerRegistry` and calls `init(config:)`. A new layer
/// type is its own file (the layer, its `Config` and this conformance) plus one line in `LayerRegistry.builtIn`; an
/// application's own layer type is added with `LayerRegistry.register(_:)`.
///
/// The `Config`'s coding keys are Keras's snake_case names where Keras has the field (`units`, `use_bias`,
/// `return_sequences`, ...), so model.json reads like a Keras model config. A field added later is decoded with
/// `decodeIfPresent` and a default, so files saved before it still load. Loading refuses a key that the decoded
/// `Config` does not encode again (a typo, another layer's field), so a `Config` encodes every field that is set.
/// When the `Config` also conforms to `CheckedLayerConfig`, a loaded file is range-checked before anything is allocated.
public protocol ConfigurableLayer: Layer {
    associatedtype Config: Codable, Equatable, Sendable
    /// Keras's class name ("Dense", "LSTM", "Conv2D", ...): the `class_name` in model.json.
    static var kerasClassName: String { get }
    /// Everything needed to rebuild the layer (not its weights).
    var config: Config { get }
    init(config: Config) throws
}

extension ConfigurableLayer {
    /// The layer's entry in model.json: its class name and `config`.
    public var layerConfig: AnyLayerConfig { AnyLayerConfig(self) }
}
