import Foundation

extension Sequential {
    /// Saves the architecture as `directory/model.json` and the weights as `directory/model.safetensors`
    /// (names "{layer}.{parameter}", PyTorch's), and, once compiled, the optimizer's state (moments, step count)
    /// as `directory/optimizer.safetensors`, each written atomically.
    ///
    /// model.json (version 2) holds each layer as Keras writes it, `{"class_name": "LSTM", "config": {...}}` (see
    /// `ModelSpec`); every layer must be a `ConfigurableLayer`.
    public func save(to directory: URL) throws {
        guard let inputShape else {
            throw LSTMKitError.invalidArgument(name: "save", value: directory.path, reason: "the model is not built yet (fit, predict or build it first)")
        }
        let json = try Self.encodeModelJSON(ModelSpec(inputShape: inputShape, seed: seed, layers: layers.map { AnyLayerConfig(layer: $0) }))
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
        do { try json.write(to: directory.appendingPathComponent("model.json"), options: .atomic) } catch {
            throw LSTMKitError.io(path: directory.path, reason: "cannot write model.json: \(error.localizedDescription)")
        }
    }

    /// Loads a model saved by `save(to:)` onto `device`. It predicts the same numbers on either device.
    ///
    /// `model.json` is range-checked before anything is built (`ModelSpec.check`): every size, rate and option,
    /// the nesting of layers and the model's parameter count (at most 2^31), so a hostile file gets a typed error
    /// naming `model.json`, the layer and the field. Version 1 files (LSTMKit before version 2) load as well. The weights are loaded as by `loadWeights`: a tensor holding NaN or
    /// infinity is refused unless `allowNonFinite` is true.
    public static func load(from directory: URL, device: Device = .cpu, allowNonFinite: Bool = false) throws -> Sequential {
        let specURL = directory.appendingPathComponent("model.json")
        let data: Data
        do { data = try Data(contentsOf: specURL) } catch {
            throw LSTMKitError.io(path: specURL.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let spec = try ModelSpec.decode(data)
        let model = Sequential(try makeLayers(spec.layers, device: device), device: device, seed: spec.seed)
        try model.build(inputShape: spec.inputShape)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"), allowNonFinite: allowNonFinite)
        return model
    }

    /// The architecture a model.json holds (version 1 or 2), checked as `load(from:)` checks it, without building
    /// anything: the per-sample input shape, the seed and each layer's entry.
    public static func architecture(fromModelJSON data: Data) throws -> (inputShape: [Int], seed: UInt64, layers: [AnyLayerConfig]) {
        let spec = try ModelSpec.decode(data)
        return (spec.inputShape, spec.seed, spec.layers)
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

    /// The layers of `configs`, unbuilt, for a model on `device` (nested `Sequential`s are made on it too).
    /// An error of a layer's `init(config:)` is named after its place, e.g. `model.json layers[2]: TimeDistributed.layer`.
    static func makeLayers(_ configs: [AnyLayerConfig], device: Device, file: String = "model.json") throws -> [Layer] {
        try $loadingDevice.withValue(device) {
            try configs.enumerated().map { i, config in
                do { return try config.makeLayer() } catch let LSTMKitError.invalidArgument(name, value, reason) {
                    throw LSTMKitError.invalidArgument(name: "\(file) layers[\(i)]: \(name)", value: value, reason: reason)
                }
            }
        }
    }

    /// model.json's text: pretty-printed, keys sorted. A layer that is not a `ConfigurableLayer` is a typed error.
    static func encodeModelJSON(_ spec: ModelSpec) throws -> Data {
        for (i, layer) in spec.layers.enumerated() where !layer.isSaveable {
            throw LSTMKitError.invalidArgument(name: "save: layers[\(i)]", value: layer.className,
                                               reason: "does not conform to ConfigurableLayer, so its architecture cannot be saved")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { return try encoder.encode(spec) } catch let error as LSTMKitError { throw error } catch {
            throw LSTMKitError.invalidArgument(name: "save", value: "model.json", reason: "cannot encode the architecture: \(error)")
        }
    }
}
