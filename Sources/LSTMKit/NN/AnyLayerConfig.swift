import Foundation

/// One layer's entry in model.json, of any layer type: Keras's `{"class_name": "LSTM", "config": {...}}`.
///
/// Made from a `ConfigurableLayer` (`AnyLayerConfig(layer)`), it encodes the layer's `Config` under its
/// `kerasClassName`. Decoding looks the class name up in `LayerRegistry` and decodes that type's `Config`, strictly:
/// a key the config does not write back (a typo, a field of another layer type) is refused, naming the field.
/// Wrappers (`Bidirectional`, `TimeDistributed`) and `Sequential` hold their inner layers as `AnyLayerConfig`.
public struct AnyLayerConfig: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Keras's class name of the layer type ("Dense", "LSTM", ...).
    public let className: String
    private let box: any Box

    /// The entry of `layer`.
    public init<L: ConfigurableLayer>(_ layer: L) { self.init(L.self, config: layer.config) }

    /// The entry of a layer of type `type` with `config`.
    public init<L: ConfigurableLayer>(_ type: L.Type, config: L.Config) {
        self.init(className: L.kerasClassName, box: TypedBox<L>(config: config))
    }

    private init(className: String, box: any Box) {
        self.className = className
        self.box = box
    }

    /// The entry of any layer. A layer that is not a `ConfigurableLayer` gives an entry named after its type that
    /// cannot be saved: encoding it (`Sequential.save`) and `makeLayer` throw a typed error naming the type.
    public init(layer: any Layer) {
        if let configurable = layer as? any ConfigurableLayer {
            self.init(configurable)
        } else {
            self.init(className: "\(type(of: layer))", box: Unsaveable(typeName: "\(type(of: layer))"))
        }
    }

    /// Whether the entry can be encoded (the layer is a `ConfigurableLayer`).
    public var isSaveable: Bool { layerType != nil }

    /// The layer type's `Config` value.
    public var config: any Sendable { box.erasedConfig }
    /// The layer type (nil for a layer that is not a `ConfigurableLayer`).
    public var layerType: (any ConfigurableLayer.Type)? { box.layerType }
    /// The config as `C`, when the layer type's `Config` is `C`.
    public func config<C>(as type: C.Type) -> C? { box.erasedConfig as? C }
    /// A new, unbuilt layer with this config (`init(config:)`).
    public func makeLayer() throws -> any Layer { try box.makeLayer() }

    public static func == (a: AnyLayerConfig, b: AnyLayerConfig) -> Bool { a.className == b.className && a.box.isEqual(to: b.box) }

    /// The entry as model.json writes it (sorted keys, one line).
    public var description: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "\(className)(?)"
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey, CaseIterable {
        case className = "class_name", config
    }

    public init(from decoder: Decoder) throws {
        try ConfigFieldError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.stringValue), of: "a layer entry")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .className)
        guard let type = LayerRegistry.type(named: name) else {
            throw ConfigFieldError(codingPath: decoder.codingPath + [CodingKeys.className], value: "\"\(name)\"",
                                   reason: "unknown layer type (known: \(LayerRegistry.types.map { $0.kerasClassName }.joined(separator: ", ")))")
        }
        className = name
        box = try Self.decodeBox(type, container, path: decoder.codingPath + [CodingKeys.config])
    }

    private static func decodeBox<L: ConfigurableLayer>(_: L.Type, _ container: KeyedDecodingContainer<CodingKeys>,
                                                        path: [CodingKey]) throws -> any Box {
        let config = try container.decode(L.Config.self, forKey: .config)
        // The keys the config writes back are its fields: any other key in the file is refused (null ones aside).
        let written = try StrictJSON.objectKeys(of: JSONEncoder().encode(config))
        let file = try container.nestedContainer(keyedBy: ConfigFieldError.Key.self, forKey: .config)
        for key in file.allKeys where !written.contains(key.stringValue) {
            if try file.decodeNil(forKey: key) { continue }
            throw ConfigFieldError(codingPath: path + [key], value: "set",
                                   reason: "\(L.kerasClassName) has no such field (its fields: \(written.sorted().joined(separator: ", ")))")
        }
        return TypedBox<L>(config: config)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(className, forKey: .className)
        try box.encodeConfig(in: &container)
    }

    /// A `Config` with its layer type (what `AnyLayerConfig` holds).
    private protocol Box: Sendable {
        var erasedConfig: any Sendable { get }
        var layerType: (any ConfigurableLayer.Type)? { get }
        func isEqual(to other: any Box) -> Bool
        func makeLayer() throws -> any Layer
        func encodeConfig(in container: inout KeyedEncodingContainer<AnyLayerConfig.CodingKeys>) throws
    }

    private struct TypedBox<L: ConfigurableLayer>: Box {
        let config: L.Config
        var erasedConfig: any Sendable { config }
        var layerType: (any ConfigurableLayer.Type)? { L.self }
        func isEqual(to other: any Box) -> Bool { (other as? TypedBox<L>)?.config == config }
        func makeLayer() throws -> any Layer { try L(config: config) }
        func encodeConfig(in container: inout KeyedEncodingContainer<AnyLayerConfig.CodingKeys>) throws {
            try container.encode(config, forKey: .config)
        }
    }

    /// The entry of a layer that is not a `ConfigurableLayer`.
    private struct Unsaveable: Box {
        let typeName: String
        var erasedConfig: any Sendable { typeName }
        var layerType: (any ConfigurableLayer.Type)? { nil }
        func isEqual(to other: any Box) -> Bool { (other as? Unsaveable)?.typeName == typeName }
        var error: LSTMKitError {
            .invalidArgument(name: "layer", value: typeName, reason: "does not conform to ConfigurableLayer, so its architecture cannot be saved")
        }
        func makeLayer() throws -> any Layer { throw error }
        func encodeConfig(in container: inout KeyedEncodingContainer<AnyLayerConfig.CodingKeys>) throws { throw error }
    }
}
