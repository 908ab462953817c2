import Foundation

/// The architecture of a saved model (`model.json`).
struct ModelSpec: Codable {
    var format = "lstmkit.sequential"
    var version = 1
    var inputShape: [Int]
    var seed: UInt64
    var layers: [LayerSpec]
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

    /// Decodes and checks `model.json` (see `check`). Every failure is `LSTMKitError.invalidArgument` whose
    /// name is `"\(file) <field>"`, e.g. `model.json layers[1].units`.
    static func decode(_ data: Data, file: String = "model.json") throws -> ModelSpec {
        try prevalidate(data, file: file)
        let spec: ModelSpec
        do { spec = try JSONDecoder().decode(ModelSpec.self, from: data) } catch let error as DecodingError {
            func field(_ path: [CodingKey]) -> String {
                var name = ""
                for key in path {
                    if let i = key.intValue { name += "[\(i)]" } else { name += (name.isEmpty ? "" : ".") + key.stringValue }
                }
                return name.isEmpty ? file : "\(file) \(name)"
            }
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
        } catch {
            throw LSTMKitError.invalidArgument(name: file, value: "unreadable", reason: "\(error)")
        }
        try spec.check(file: file)
        return spec
    }

    /// Checks what `JSONDecoder` would report without naming the field, or not at all: the JSON syntax and nesting
    /// (with `StrictJSON`, at most 64 levels), duplicate keys (the decoder keeps one silently), and numbers that do
    /// not fit their field (1e300 in an Int field, 1e400 in a Double field: the decoder names no field for them).
    static func prevalidate(_ data: Data, file: String) throws {
        let json: StrictJSON.Value
        do { json = try data.withUnsafeBytes { try StrictJSON.parse($0) } } catch let error as StrictJSON.SyntaxError {
            throw LSTMKitError.invalidArgument(name: file, value: "not JSON", reason: "\(error.reason) at byte \(error.offset)")
        }
        let integerKeys: Set<String> = ["version", "units", "inputDim", "outputDim", "projSize", "seed", "inputShape"]
        let doubleKeys: Set<String> = ["rate", "cellClip", "recurrentDropout"]
        func visit(_ value: StrictJSON.Value, _ path: String, number: String?) throws {
            switch value {
            case .object(let members):
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
                guard let number else { return }
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

    /// Range-checks every field and walks the layers with the per-sample shape, counting the parameters with
    /// overflow checks, so an absurd size is refused here rather than by an allocation.
    func check(file: String = "model.json") throws {
        func bad(_ field: String, _ value: Any, _ reason: String) -> LSTMKitError {
            .invalidArgument(name: "\(file) \(field)", value: "\(value)", reason: reason)
        }
        guard format == "lstmkit.sequential" else { throw bad("format", format, "expected \"lstmkit.sequential\"") }
        guard version == 1 else { throw bad("version", version, "only version 1 is known") }
        guard !layers.isEmpty else { throw bad("layers", "[]", "a model needs at least one layer") }
        guard (1...8).contains(inputShape.count) else { throw bad("inputShape", inputShape, "must have 1 to 8 dimensions") }
        for (i, d) in inputShape.enumerated() where !(1...Self.maxDimension).contains(d) {
            throw bad("inputShape[\(i)]", d, "must be in 1...\(Self.maxDimension)")
        }
        guard let elements = Memory.product(inputShape), elements <= Self.maxParameters else {
            throw bad("inputShape", inputShape, "a sample of more than \(Self.maxParameters) values is refused")
        }
        var walker = Walker(file: file)
        var shape = inputShape
        for (i, layer) in layers.enumerated() { shape = try walker.walk(layer, "layers[\(i)]", shape, depth: 1) }
    }

    /// Follows the per-sample shape through the layers as `build` will, counting parameters.
    private struct Walker {
        let file: String
        var parameters = 0
        var layerCount = 0

        func bad(_ field: String, _ value: Any, _ reason: String) -> LSTMKitError {
            .invalidArgument(name: "\(file) \(field)", value: "\(value)", reason: reason)
        }

        func dimension(_ v: Int?, _ field: String) throws -> Int {
            guard let v else { throw bad(field, "missing", "required") }
            guard (1...ModelSpec.maxDimension).contains(v) else { throw bad(field, v, "must be in 1...\(ModelSpec.maxDimension)") }
            return v
        }

        func fraction(_ v: Double?, _ field: String) throws -> Double? {
            guard let v else { return nil }
            guard v.isFinite, v >= 0, v < 1 else { throw bad(field, v, "must be in [0, 1)") }
            return v
        }

        /// Adds tensors of the given shapes (each a list of dimensions, at most 2) to the model's parameter count.
        mutating func add(_ shapes: [[Int]], times: Int = 1, _ path: String) throws {
            for shape in shapes {
                guard let n = Memory.product([times] + shape) else { throw tooBig(path) }
                let (sum, overflow) = parameters.addingReportingOverflow(n)
                guard !overflow, sum <= ModelSpec.maxParameters else { throw tooBig(path) }
                parameters = sum
            }
        }

        func tooBig(_ path: String) -> LSTMKitError {
            bad(path, "too large", "the model would hold more than \(ModelSpec.maxParameters) parameters")
        }

        func single(_ s: LayerSpec, _ path: String) throws -> LayerSpec {
            guard let inner = s.layer, inner.count == 1 else { throw bad("\(path).layer", "\(s.layer?.count ?? 0) layers", "\(s.type) wraps exactly one layer") }
            return inner[0]
        }

        mutating func walk(_ s: LayerSpec, _ path: String, _ shape: [Int], depth: Int, merge: MergeMode? = nil) throws -> [Int] {
            guard depth <= ModelSpec.maxNesting else { throw bad(path, s.type, "layers nest more than \(ModelSpec.maxNesting) deep") }
            layerCount += 1
            guard layerCount <= ModelSpec.maxLayers else { throw bad(path, s.type, "a model may have at most \(ModelSpec.maxLayers) layers") }
            func needs(_ rank: Int, _ what: String) throws {
                guard shape.count == rank else { throw bad(path, s.type, "needs \(what) per sample, but gets shape \(shape)") }
            }
            if s.type != "LSTM" && s.type != "GRU" {
                for (value, field) in [(s.projSize.map { "\($0)" }, "projSize"), (s.cellClip.map { "\($0)" }, "cellClip"),
                                       (s.recurrentDropout.map { "\($0)" }, "recurrentDropout")] where value != nil {
                    throw bad("\(path).\(field)", value!, "\(s.type) has no \(field)")
                }
            }
            switch s.type {
            case "Dense":
                let units = try dimension(s.units, "\(path).units")
                try add([[units, shape[shape.count - 1]]] + ((s.useBias ?? true) ? [[units]] : []), path)
                return Array(shape.dropLast()) + [units]
            case "TimeDistributed":
                let inner = try single(s, path)
                guard inner.type == "Dense" else { throw bad("\(path).layer[0].type", inner.type, "TimeDistributed wraps a Dense layer") }
                try needs(2, "[T, features]")
                return try walk(inner, "\(path).layer[0]", shape, depth: depth + 1)
            case "Embedding":
                let inputDim = try dimension(s.inputDim, "\(path).inputDim"), outputDim = try dimension(s.outputDim, "\(path).outputDim")
                try needs(1, "[T] token ids")
                try add([[inputDim, outputDim]], path)
                return shape + [outputDim]
            case "Dropout":
                guard try fraction(s.rate, "\(path).rate") != nil else { throw bad("\(path).rate", "missing", "required") }
                return shape
            case "LSTM", "GRU":
                let H = try dimension(s.units, "\(path).units")
                try needs(2, "[T, features]")
                let lstm = s.type == "LSTM"
                if !lstm {
                    for (set, field) in [(s.peephole == true, "peephole"), (s.layerNorm == true, "layerNorm"),
                                         (s.projSize != nil, "projSize"), (s.cellClip != nil, "cellClip"),
                                         (s.recurrentDropout != nil, "recurrentDropout")] where set {
                        throw bad("\(path).\(field)", "set", "a GRU has no \(field)")
                    }
                }
                let P = s.projSize ?? 0
                guard P >= 0, P < H else { throw bad("\(path).projSize", P, "must be 0 (off) or less than units \(H)") }
                if let clip = s.cellClip, !(clip.isFinite && clip > 0) {
                    throw bad("\(path).cellClip", clip, "must be a finite number > 0 (leave it out to turn clipping off)")
                }
                _ = try fraction(s.recurrentDropout, "\(path).recurrentDropout")
                let G = (lstm ? 4 : 3) * H, R = P > 0 ? P : H, D = merge == nil ? 1 : 2
                var tensors: [[Int]] = [[G, shape[1]], [G, R], [G], [G]]
                if P > 0 { tensors.append([P, H]) }
                if s.peephole == true { tensors.append([3, H]) }
                if s.layerNorm == true { tensors += [[4, G], [2, H]] }
                try add(tensors, times: D, path)
                let width = merge == .concat ? 2 * R : R
                return (s.returnSequences ?? false) ? [shape[0], width] : [width]
            case "Bidirectional":
                let inner = try single(s, path)
                guard inner.type == "LSTM" || inner.type == "GRU" else {
                    throw bad("\(path).layer[0].type", inner.type, "Bidirectional wraps an LSTM or GRU layer")
                }
                let mode: MergeMode
                if let name = s.mergeMode {
                    guard let m = MergeMode(rawValue: name) else { throw bad("\(path).mergeMode", name, "must be concat, sum, mul or average") }
                    mode = m
                } else {
                    mode = .concat
                }
                return try walk(inner, "\(path).layer[0]", shape, depth: depth + 1, merge: mode)
            case "InputLayer":   // Input(shape:): no parameters; its shape is the model's inputShape
                return shape
            case "Sequential":
                guard s.layer?.isEmpty == false else { throw bad("\(path).layer", "[]", "a Sequential needs at least one layer") }
                var inner = shape
                for (i, layer) in (s.layer ?? []).enumerated() { inner = try walk(layer, "\(path).layer[\(i)]", inner, depth: depth + 1) }
                return inner
            default:
                throw bad("\(path).type", s.type, "unknown layer type (Dense, TimeDistributed, Embedding, Dropout, LSTM, GRU, Bidirectional, Sequential)")
            }
        }
    }
}
