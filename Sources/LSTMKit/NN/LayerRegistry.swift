/// The layer types model.json may name, by `kerasClassName`: one line per type.
///
/// `AnyLayerConfig` decodes a `{"class_name": ..., "config": ...}` entry with the type listed here under that name.
/// A new layer type (a `ConfigurableLayer`) is added with one line in `types`.
public enum LayerRegistry {
    /// Every layer type that can be loaded from model.json (class names unique; `LayerConfigTests` checks).
    public static var types: [any ConfigurableLayer.Type] {
        [
            Dense.self,
            TimeDistributed.self,
            Embedding.self,
            Dropout.self,
            LSTMLayer.self,
            GRULayer.self,
            Bidirectional.self,
            Sequential.self,
        ]
    }

    /// The type saved as `className`, if any.
    public static func type(named className: String) -> (any ConfigurableLayer.Type)? {
        types.first { $0.kerasClassName == className }
    }
}
