import Foundation

extension Sequential {
    /// Saves the architecture as `directory/model.json` and the weights as `directory/model.safetensors`
    /// (names "{layer}.{parameter}", PyTorch's), and, once compiled, the optimizer's state (moments, step count)
    /// as `directory/optimizer.safetensors`, each written atomically.
    public func save(to directory: URL) throws {
        guard let inputShape else {
            throw LSTMKitError.invalidArgument(name: "save", value: directory.path, reason: "the model is not built yet (fit, predict or build it first)")
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw LSTMKitError.io(path: directory.path, reason: "cannot create directory: \(error.localizedDescription)")
        }
        let dtype = device.precision == .float64 ? "F64" : "F32"
        let entries = try namedParameters.map { p in
            (name: p.name, entry: SafeTensors.Entry(dtype: dtype, shape: p.tensor.shape, values: try p.tensor.toDoubles()))
        }
        try SafeTensors.write(entries, metadata: ["format": "pt", "producer": "LSTMKit"], to: directory.appendingPathComponent("model.safetensors"))
        if let optimizer {
            try SafeTensors.write(try optimizer.stateEntries(for: parameterBuffers), metadata: ["optimizer": "\(type(of: optimizer))"],
                                  to: directory.appendingPathComponent("optimizer.safetensors"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(ModelSpec(inputShape: inputShape, seed: seed, layers: layers.map(\.spec)))
        do { try json.write(to: directory.appendingPathComponent("model.json"), options: .atomic) } catch {
            throw LSTMKitError.io(path: directory.path, reason: "cannot write model.json: \(error.localizedDescription)")
        }
    }

    /// Loads a model saved by `save(to:)` onto `device`. It predicts the same numbers on either device.
    ///
    /// `model.json` is range-checked before anything is built (`ModelSpec.check`): every size, rate and option,
    /// the nesting of layers and the model's parameter count (at most 2^31), so a hostile file gets a typed error
    /// naming `model.json` and the field. The weights are loaded as by `loadWeights`: a tensor holding NaN or
    /// infinity is refused unless `allowNonFinite` is true.
    public static func load(from directory: URL, device: Device = .cpu, allowNonFinite: Bool = false) throws -> Sequential {
        let specURL = directory.appendingPathComponent("model.json")
        let data: Data
        do { data = try Data(contentsOf: specURL) } catch {
            throw LSTMKitError.io(path: specURL.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let spec = try ModelSpec.decode(data)
        // An `Input` first layer saves only its type; its shape is the model's input shape.
        let model = Sequential(try spec.layers.enumerated().map { i, s in
            i == 0 && s.type == "InputLayer" ? Input(shape: spec.inputShape) : try makeLayer(s, device: device)
        }, device: device, seed: spec.seed)
        try model.build(inputShape: spec.inputShape)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"), allowNonFinite: allowNonFinite)
        return model
    }

    /// Restores the optimizer state saved with the model (call after `compile`, with the same kind of optimizer),
    /// so training resumes where it stopped: Adam's moments and step count, SGD's momentum. Returns false when the
    /// directory holds no optimizer state. The file is checked whole first (names, shapes, the step count, and
    /// finite moments unless `allowNonFinite`); nothing changes on error.
    @discardableResult
    public func loadOptimizerState(from directory: URL, allowNonFinite: Bool = false) throws -> Bool {
        guard let optimizer else { throw LSTMKitError.notCompiled }
        let url = directory.appendingPathComponent("optimizer.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        let kind = try SafeTensors.metadata(url)["optimizer"] ?? "?"
        guard kind == "\(type(of: optimizer))" else {
            throw LSTMKitError.stateDict(tensor: "optimizer", reason: "\(url.lastPathComponent) holds \(kind) state; the model is compiled with \(type(of: optimizer))")
        }
        try optimizer.loadState(try SafeTensors.read(url), for: parameterBuffers, allowNonFinite: allowNonFinite, source: url.lastPathComponent)
        return true
    }

    /// Loads weights by name, strictly: every parameter present with its shape, no unknown names, and (unless
    /// `allowNonFinite`) no NaN or infinity. Nothing changes on error.
    public func loadWeights(from url: URL, allowNonFinite: Bool = false) throws {
        let entries = try SafeTensors.read(url)
        let file = url.lastPathComponent
        let params = namedParameters
        for (name, tensor) in params {
            guard let e = entries[name] else { throw LSTMKitError.stateDict(tensor: name, reason: "missing from \(file)") }
            guard e.shape == tensor.shape else {
                throw LSTMKitError.stateDict(tensor: name, reason: "shape \(e.shape) does not match the model's \(tensor.shape) in \(file)")
            }
        }
        let known = Set(params.map(\.name))
        if let extra = entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw LSTMKitError.stateDict(tensor: extra, reason: "unexpected: the model has no such parameter (another architecture?) in \(file)")
        }
        if !allowNonFinite {
            for (name, tensor) in params {
                try SafeTensors.checkFinite(entries[name]!.values, tensor: name, precision: tensor.device.precision, suffix: " in \(file)")
            }
        }
        for (name, tensor) in params { try tensor.assign(entries[name]!.values) }
    }

    static func makeLayer(_ s: LayerSpec, device: Device) throws -> Layer {
        func need<T>(_ v: T?, _ field: String) throws -> T {
            guard let v else { throw LSTMKitError.invalidArgument(name: "\(s.type).\(field)", value: "missing", reason: "required in model.json") }
            return v
        }
        switch s.type {
        case "Dense": return Dense(units: try need(s.units, "units"), activation: s.activation ?? .linear, useBias: s.useBias ?? true)
        case "TimeDistributed":
            guard let inner = try makeLayer(try need(s.layer?.first, "layer"), device: device) as? Dense else {
                throw LSTMKitError.invalidArgument(name: "TimeDistributed.layer", value: "\(s.layer?.first?.type ?? "?")", reason: "must be Dense")
            }
            return TimeDistributed(inner)
        case "Embedding": return Embedding(inputDim: try need(s.inputDim, "inputDim"), outputDim: try need(s.outputDim, "outputDim"), maskZero: s.maskZero ?? false)
        case "Dropout": return Dropout(try need(s.rate, "rate"))
        case "LSTM": return LSTMLayer(units: try need(s.units, "units"), returnSequences: s.returnSequences ?? false,
                                      returnState: s.returnState ?? false, stateful: s.stateful ?? false,
                                      recurrentDropout: s.recurrentDropout ?? 0, cellClip: s.cellClip, projSize: s.projSize ?? 0,
                                      peephole: s.peephole ?? false, layerNorm: s.layerNorm ?? false)
        case "GRU": return GRULayer(units: try need(s.units, "units"), returnSequences: s.returnSequences ?? false,
                                    returnState: s.returnState ?? false, stateful: s.stateful ?? false)
        case "Bidirectional":
            guard let inner = try makeLayer(try need(s.layer?.first, "layer"), device: device) as? RecurrentLayer else {
                throw LSTMKitError.invalidArgument(name: "Bidirectional.layer", value: "\(s.layer?.first?.type ?? "?")", reason: "must be LSTM or GRU")
            }
            guard let mode = MergeMode(rawValue: s.mergeMode ?? "concat") else {
                throw LSTMKitError.invalidArgument(name: "Bidirectional.mergeMode", value: s.mergeMode ?? "", reason: "must be concat, sum, mul or average")
            }
            return Bidirectional(inner, mergeMode: mode)
        case "Sequential": return Sequential(try (s.layer ?? []).map { try makeLayer($0, device: device) }, device: device)
        default: throw LSTMKitError.invalidArgument(name: "layer type", value: s.type, reason: "unknown layer in model.json")
        }
    }
}
