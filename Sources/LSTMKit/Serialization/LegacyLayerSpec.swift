/// A layer of a version 1 model.json (LSTMKit before model.json version 2): `{"type": "LSTM", "units": 4,
/// "returnSequences": true, ...}`, one struct of optional fields for every layer type, inner layers in `layer`.
/// Read only: `converted` turns it into the layer type's `Config`.
struct LegacyLayerSpec: Codable, Equatable, Sendable {
    var type: String
    var units: Int?
    var activation: Activation?
    var useBias: Bool?
    var inputDim: Int?
    var outputDim: Int?
    var maskZero: Bool?
    var rate: Double?
    var returnSequences: Bool?
    var returnState: Bool?
    var stateful: Bool?
    var cellClip: Double?
    var projSize: Int?
    var peephole: Bool?
    var layerNorm: Bool?
    var recurrentDropout: Double?
    var mergeMode: String?
    var layer: [LegacyLayerSpec]?
    init(type: String) { self.type = type }
}

extension LegacyLayerSpec {
    /// The fields each version 1 layer type may set (besides `type`).
    static let fields: [String: [String]] = [
        "Dense": ["units", "activation", "useBias"],
        "TimeDistributed": ["layer"],
        "Embedding": ["inputDim", "outputDim", "maskZero"],
        "Dropout": ["rate"],
        "LSTM": ["units", "returnSequences", "returnState", "stateful", "cellClip", "projSize", "peephole", "layerNorm", "recurrentDropout"],
        "GRU": ["units", "returnSequences", "returnState", "stateful"],
        "Bidirectional": ["mergeMode", "layer"],
        "Sequential": ["layer"],
    ]

    /// The fields that are set, by name.
    private var setFields: [String] {
        let all: [(String, Bool)] = [
            ("units", units != nil), ("activation", activation != nil), ("useBias", useBias != nil), ("inputDim", inputDim != nil),
            ("outputDim", outputDim != nil), ("maskZero", maskZero != nil), ("rate", rate != nil), ("returnSequences", returnSequences != nil),
            ("returnState", returnState != nil), ("stateful", stateful != nil), ("cellClip", cellClip != nil), ("projSize", projSize != nil),
            ("peephole", peephole != nil), ("layerNorm", layerNorm != nil), ("recurrentDropout", recurrentDropout != nil),
            ("mergeMode", mergeMode != nil), ("layer", layer != nil),
        ]
        return all.filter(\.1).map(\.0)
    }

    /// The layer as the version 2 entry, with version 1's defaults for the fields left out. Errors name the
    /// version 1 field (`"model.json layers[1].units"`); sizes and rates are range-checked afterwards, by `ConfigCheck`.
    func converted(file: String, path: String) throws -> AnyLayerConfig {
        func bad(_ field: String, _ value: Any, _ reason: String) -> LSTMKitError {
            .invalidArgument(name: "\(file) \(path).\(field)", value: "\(value)", reason: reason)
        }
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw bad(field, "missing", "required") }
            return value
        }
        guard let allowed = Self.fields[type] else {
            throw bad("type", type, "unknown layer type (\(Self.fields.keys.sorted().joined(separator: ", ")))")
        }
        if let stray = setFields.first(where: { !allowed.contains($0) }) {
            throw bad(stray, "set", type == "GRU" ? "a GRU has no \(stray)" : "\(type) has no \(stray)")
        }
        /// The one layer a wrapper holds, converted; `types` are those it may wrap.
        func single(_ types: [String]) throws -> AnyLayerConfig {
            guard let inner = layer, inner.count == 1 else { throw bad("layer", "\(layer?.count ?? 0) layers", "\(type) wraps exactly one layer") }
            guard types.contains(inner[0].type) else {
                throw bad("layer[0].type", inner[0].type, "\(type) wraps \(types == ["Dense"] ? "a Dense layer" : "an LSTM or GRU layer")")
            }
            return try inner[0].converted(file: file, path: "\(path).layer[0]")
        }
        switch type {
        case "Dense":
            return AnyLayerConfig(Dense.self, config: .init(units: try need(units, "units"), activation: activation ?? .linear, useBias: useBias ?? true))
        case "TimeDistributed":
            return AnyLayerConfig(TimeDistributed.self, config: .init(layer: try single(["Dense"])))
        case "Embedding":
            return AnyLayerConfig(Embedding.self, config: .init(inputDim: try need(inputDim, "inputDim"), outputDim: try need(outputDim, "outputDim"),
                                                                maskZero: maskZero ?? false))
        case "Dropout":
            return AnyLayerConfig(Dropout.self, config: .init(rate: try need(rate, "rate")))
        case "LSTM":
            return AnyLayerConfig(LSTMLayer.self, config: .init(
                units: try need(units, "units"), returnSequences: returnSequences ?? false, returnState: returnState ?? false,
                stateful: stateful ?? false, recurrentDropout: recurrentDropout ?? 0, cellClip: cellClip, projSize: projSize ?? 0,
                peephole: peephole ?? false, layerNorm: layerNorm ?? false))
        case "GRU":
            return AnyLayerConfig(GRULayer.self, config: .init(units: try need(units, "units"), returnSequences: returnSequences ?? false,
                                                               returnState: returnState ?? false, stateful: stateful ?? false))
        case "Bidirectional":
            let inner = try single(["LSTM", "GRU"])
            guard let mode = MergeMode(rawValue: mergeMode ?? "concat") else {
                throw bad("mergeMode", mergeMode ?? "", "must be concat, sum, mul or average")
            }
            return AnyLayerConfig(Bidirectional.self, config: .init(layer: inner, mergeMode: mode))
        default:  // Sequential
            let inner = try (layer ?? []).enumerated().map { i, l in try l.converted(file: file, path: "\(path).layer[\(i)]") }
            return AnyLayerConfig(Sequential.self, config: .init(layers: inner))
        }
    }
}
