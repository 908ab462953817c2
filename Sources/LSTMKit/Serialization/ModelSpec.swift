import Foundation

/// The architecture of a saved model: `model.json`. Version 2, which `Sequential.save(to:)` writes, holds each
/// layer as Keras writes it in a model config:
///
///     {"format": "lstmkit.sequential", "version": 2, "input_shape": [20, 1], "seed": 7,
///      "layers": [{"class_name": "LSTM", "config": {"units": 32, "return_sequences": false, ...}},
///                 {"class_name": "Dense", "config": {"units": 1, "activation": "linear", "use_bias": true}}]}
///
/// Version 1 (`"inputShape"`, layers as `{"type": "LSTM", "units": 32, ...}`: `LegacyModelSpec`) is still read.
struct ModelSpec: Codable {
    static let format = "lstmkit.sequential"
    /// The version this code writes.
    static let version = 2
    /// The per-sample input shape (without the batch).
    var inputShape: [Int]
    var seed: UInt64
    var layers: [AnyLayerConfig]

    init(inputShape: [Int], seed: UInt64, layers: [AnyLayerConfig]) {
        self.inputShape = inputShape
        self.seed = seed
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, version, inputShape = "input_shape", seed, layers
    }

    init(from decoder: Decoder) throws {
        try ConfigFieldError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.stringValue), of: "model.json version 2")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputShape = try c.decode([Int].self, forKey: .inputShape)
        seed = try c.decode(UInt64.self, forKey: .seed)
        layers = try c.decode([AnyLayerConfig].self, forKey: .layers)
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(Self.version, forKey: .version)
        try c.encode(inputShape, forKey: .inputShape)
        try c.encode(seed, forKey: .seed)
        try c.encode(layers, forKey: .layers)
    }

    /// What every version starts with.
    private struct Header: Decodable {
        var format: String
        var version: Int
    }
}

/// What `model.json` may ask for. Past these, loading is refused before anything is allocated.
extension ModelSpec {
    /// The largest size of one dimension: units, inputDim, outputDim, projSize, an inputShape entry.
    static let maxDimension = 1 << 24
    /// The most parameters (elements) a model may hold, all layers together (2^31: 8 GiB of Float32 values,
    /// four times that with gradients and Adam's moments).
    static let maxParameters = 1 << 31
    /// How deep `layer` may nest (Bidirectional, TimeDistributed and Sequential inside one another).
    static let maxNesting = 8
    /// The most layers, nested ones included.
    static let maxLayers = 10_000

    /// Decodes and checks `model.json`, version 2 or 1 (see `check`). Every failure is `LSTMKitError.invalidArgument`
    /// whose name is `"\(file) <field>"`, e.g. `model.json layers[1].config.units` (version 1: `model.json layers[1].units`).
    static func decode(_ data: Data, file: String = "model.json") throws -> ModelSpec {
        try prevalidate(data, file: file)
        let header = try decodeJSON(Header.self, data, file: file)
        guard header.format == format else {
            throw LSTMKitError.invalidArgument(name: "\(file) format", value: header.format, reason: "expected \"\(format)\"")
        }
        let spec: ModelSpec
        switch header.version {
        case 1:
            let old = try decodeJSON(LegacyModelSpec.self, data, file: file)
            spec = ModelSpec(inputShape: old.inputShape, seed: old.seed,
                             layers: try old.layers.enumerated().map { i, l in try l.converted(file: file, path: "layers[\(i)]") })
        case 2:
            spec = try decodeJSON(ModelSpec.self, data, file: file)
        default:
            throw LSTMKitError.invalidArgument(name: "\(file) version", value: "\(header.version)", reason: "versions 1 and 2 are known")
        }
        try spec.check(file: file, legacy: header.version == 1)
        return spec
    }

    /// `JSONDecoder`'s errors, and the fields a layer config refuses (`ConfigFieldError`), as `invalidArgument`
    /// naming the field.
    private static func decodeJSON<T: Decodable>(_ type: T.Type, _ data: Data, file: String) throws -> T {
        func field(_ path: [CodingKey]) -> String {
            var name = ""
            for key in path {
                if let i = key.intValue { name += "[\(i)]" } else { name += (name.isEmpty ? "" : ".") + key.stringValue }
            }
            return name.isEmpty ? file : "\(file) \(name)"
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            switch error {
            case let .keyNotFound(key, context):
                throw LSTMKitError.invalidArgument(name: field(context.codingPath + [key]), value: "missing", reason: "required")
            case let .valueNotFound(_, context):
                throw LSTMKitError.invalidArgument(name: field(context.codingPath), value: "null", reason: context.debugDescription)
            case let .typeMismatch(_, context):
                throw LSTMKitError.invalidArgument(name: field(context.codingPath), value: "of the wrong type", reason: context.debugDescription)
            case let .dataCorrupted(context):
                let underlying = context.underlyingError.map { " (\($0))" } ?? ""
                throw LSTMKitError.invalidArgument(name: field(context.codingPath), value: "unreadable", reason: context.debugDescription + underlying)
            @unknown default:
                throw LSTMKitError.invalidArgument(name: file, value: "unreadable", reason: "\(error)")
            }
        } catch let error as ConfigFieldError {
            throw LSTMKitError.invalidArgument(name: field(error.codingPath), value: error.value, reason: error.reason)
        } catch let error as LSTMKitError {
            throw error
        } catch {
            throw LSTMKitError.invalidArgument(name: file, value: "unreadable", reason: "\(error)")
        }
    }

    /// Checks what `JSONDecoder` would report without naming the field, or not at all: the JSON syntax and nesting
    /// (with `StrictJSON`, at most 64 levels), duplicate keys (the decoder keeps one silently), and numbers that do
    /// not fit their field (1e300 in an Int field, 1e400 in a Double field: the decoder names no field for them).
    static func prevalidate(_ data: Data, file: String) throws {
        let json: StrictJSON.Value
        do { json = try data.withUnsafeBytes { try StrictJSON.parse($0) } } catch let error as StrictJSON.SyntaxError {
            throw LSTMKitError.invalidArgument(name: file, value: "not JSON", reason: "\(error.reason) at byte \(error.offset)")
        }
        // Version 2's and version 1's names. A number under any other key must still be finite as a Double.
        let integerKeys: Set<String> = ["version", "units", "input_dim", "output_dim", "proj_size", "seed", "input_shape",
                                        "inputDim", "outputDim", "projSize", "inputShape"]
        let doubleKeys: Set<String> = ["rate", "cell_clip", "recurrent_dropout", "cellClip", "recurrentDropout"]
        // Layer entries (objects with a class_name, or a type in version 1), counted so that a file of millions of
        // layers is refused before they are decoded.
        var layerObjects = 0
        func visit(_ value: StrictJSON.Value, _ path: String, number: String?) throws {
            switch value {
            case .object(let members):
                if members.contains(where: { $0.key == "class_name" || $0.key == "type" }) {
                    layerObjects += 1
                    guard layerObjects <= maxLayers else {
                        throw LSTMKitError.invalidArgument(name: "\(file) \(path)", value: "one layer too many",
                                                           reason: "a model may have at most \(maxLayers) layers")
                    }
                }
                var seen = Set<String>()
                for m in members {
                    let p = path.isEmpty ? m.key : path + "." + m.key
                    guard seen.insert(m.key).inserted else {
                        throw LSTMKitError.invalidArgument(name: "\(file) \(p)", value: "twice", reason: "a key may appear only once")
                    }
                    try visit(m.value, p, number: integerKeys.contains(m.key) ? "integer" : doubleKeys.contains(m.key) ? "double" : nil)
                }
            case .array(let elements):
                for (i, e) in elements.enumerated() { try visit(e, "\(path)[\(i)]", number: number) }
            case .number(let text):
                guard let number else {
                    guard Double(text)?.isFinite == true else {
                        throw LSTMKitError.invalidArgument(name: "\(file) \(path)", value: text, reason: "not a finite number")
                    }
                    return
                }
                let fits: Bool
                if number == "double" {
                    fits = Double(text)?.isFinite == true
                } else if path == "seed" {
                    fits = UInt64(text) != nil || Double(text).map { $0 >= 0 && $0 < 0x1p64 && $0 == $0.rounded() } == true
                } else {
                    fits = Int(text) != nil || Double(text).map { $0 >= -0x1p63 && $0 < 0x1p63 && $0 == $0.rounded() } == true
                }
                guard fits else {
                    throw LSTMKitError.invalidArgument(name: "\(file) \(path)", value: text,
                                                       reason: number == "double" ? "not a finite number" : "not a whole number that fits in \(path == "seed" ? "UInt64" : "Int")")
                }
            default:
                return
            }
        }
        try visit(json, "", number: nil)
    }

    /// Range-checks every field and walks the layers with the per-sample shape (`ConfigCheck`), counting the
    /// parameters with overflow checks, so an absurd size is refused here rather than by an allocation. `legacy`:
    /// the file is version 1 (errors name its fields). The walk stops at a layer whose config is not a
    /// `CheckedLayerConfig`; that layer and those after it are checked by their `build`.
    func check(file: String = "model.json", legacy: Bool = false) throws {
        func bad(_ field: String, _ value: Any, _ reason: String) -> LSTMKitError {
            .invalidArgument(name: "\(file) \(field)", value: "\(value)", reason: reason)
        }
        let shapeKey = legacy ? "inputShape" : "input_shape"
        guard !layers.isEmpty else { throw bad("layers", "[]", "a model needs at least one layer") }
        guard (1...8).contains(inputShape.count) else { throw bad(shapeKey, inputShape, "must have 1 to 8 dimensions") }
        for (i, d) in inputShape.enumerated() where !(1...Self.maxDimension).contains(d) {
            throw bad("\(shapeKey)[\(i)]", d, "must be in 1...\(Self.maxDimension)")
        }
        guard let elements = Memory.product(inputShape), elements <= Self.maxParameters else {
            throw bad(shapeKey, inputShape, "a sample of more than \(Self.maxParameters) values is refused")
        }
        var walk = ConfigCheck(file: file, legacy: legacy)
        var shape = inputShape
        do {
            for (i, layer) in layers.enumerated() { shape = try walk.check(layer, path: "layers[\(i)]", inputShape: shape) }
        } catch is ConfigCheck.Unchecked {
            return
        }
    }
}
