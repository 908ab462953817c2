import Foundation

/// The layer types model.json may name, by `kerasClassName`: one line per type of the library.
///
/// `AnyLayerConfig` decodes a `{"class_name": ..., "config": ...}` entry with the type listed here under that name.
/// A new layer type of the library (a `ConfigurableLayer`) is added with one line in `builtIn`; a layer type of an
/// application is added at run time with `register(_:)`.
public enum LayerRegistry {
    /// The library's layer types (class names unique; `LayerConfigTests` checks).
    static var builtIn: [any ConfigurableLayer.Type] {
        [
            Dense.self,
            TimeDistributed.self,
            Embedding.self,
            Dropout.self,
            LSTMLayer.self,
            GRULayer.self,
            Bidirectional.self,
            Sequential.self,
            Conv2D.self,
            MaxPooling2D.self,
            AveragePooling2D.self,
            GlobalAveragePooling2D.self,
            Flatten.self,
            Input.self,
            Masking.self,
        ]
    }

    /// The types added with `register(_:)`, by class name; read and written under `lock` only (metatypes are not
    /// `Sendable`, so no `Mutex`).
    nonisolated(unsafe) private static var registered: [(name: String, type: any ConfigurableLayer.Type)] = []
    private static let lock = NSLock()

    /// Every layer type that can be loaded from model.json: the library's, then those registered.
    public static var types: [any ConfigurableLayer.Type] { builtIn + lock.withLock { registered.map(\.type) } }

    /// The type saved as `className`, if any.
    public static func type(named className: String) -> (any ConfigurableLayer.Type)? {
        if let t = builtIn.first(where: { $0.kerasClassName == className }) { return t }
        return lock.withLock { registered.first { $0.name == className }?.type }
    }

    /// Lets `Sequential.load(from:)` read a layer type of your own (registering it again does nothing). A class
    /// name that another type has is an error.
    public static func register<L: ConfigurableLayer>(_ type: L.Type) throws {
        let name = L.kerasClassName
        let other: (any ConfigurableLayer.Type)? = lock.withLock {
            let existing = builtIn.first(where: { $0.kerasClassName == name }) ?? registered.first { $0.name == name }?.type
            if existing == nil { registered.append((name, type)) }
            return existing.flatMap { $0 == type ? nil : $0 }
        }
        if let other {
            throw LSTMKitError.invalidArgument(name: "LayerRegistry.register", value: name, reason: "is the class name of \(other), another layer type")
        }
    }
}
