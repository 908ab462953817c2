import Foundation

/// A layer whose parameters have PyTorch `state_dict` names (`LSTM`, `GRU`): strict loading, safetensors I/O.
public protocol StateDictLayer: AnyObject {
    /// Parameter names in PyTorch's `state_dict` order.
    var parameterNames: [String] { get }
    var parameters: [String: Tensor] { get }
    var device: Device { get }
}

extension LSTM: StateDictLayer {}
extension GRU: StateDictLayer {}

extension StateDictLayer {
    /// The parameters as (name, shape, values), in PyTorch's `state_dict` order.
    public func stateDict() throws -> [(name: String, shape: [Int], values: [Float])] {
        try parameterNames.map { ($0, parameters[$0]!.shape, try parameters[$0]!.toArray()) }
    }

    /// Loads parameters by name, strictly (as PyTorch's `load_state_dict(strict=True)`): every parameter
    /// must be present with its exact shape, and no other tensor may appear. Nothing is changed on error,
    /// so a state dict made for another variant (a GRU's for an LSTM, say) is rejected whole.
    /// A tensor holding NaN or infinity (or, on a Float32 device, a value too large for Float32) is rejected
    /// too, unless `allowNonFinite` is true.
    public func loadStateDict(_ entries: [String: SafeTensors.Entry], allowNonFinite: Bool = false) throws {
        try loadStateDict(entries, allowNonFinite: allowNonFinite, source: nil)
    }

    func loadStateDict(_ entries: [String: SafeTensors.Entry], allowNonFinite: Bool, source: String?) throws {
        let suffix = source.map { " in \($0)" } ?? ""
        let theirs = Self.variant(of: entries.keys), ours = Self.variant(of: parameterNames)
        let otherVariant = theirs == ours ? "" : " (the state dict was made for another variant, \(theirs); this layer is \(ours))"
        for name in parameterNames {
            guard let e = entries[name] else {
                throw LSTMKitError.stateDict(tensor: name, reason: "missing (this layer expects \(parameterNames.count) tensors)" + otherVariant + suffix)
            }
            let shape = parameters[name]!.shape
            guard e.shape == shape else {
                throw LSTMKitError.stateDict(tensor: name, reason: "shape \(e.shape) does not match the layer's \(shape)" + suffix)
            }
            guard e.values.count == parameters[name]!.count else {
                throw LSTMKitError.stateDict(tensor: name, reason: "holds \(e.values.count) values for shape \(e.shape)" + suffix)
            }
        }
        if let extra = entries.keys.sorted().first(where: { parameters[$0] == nil }) {
            throw LSTMKitError.stateDict(tensor: extra, reason: "unexpected: this layer has no such parameter" + otherVariant + suffix)
        }
        if !allowNonFinite {
            for name in parameterNames {
                try SafeTensors.checkFinite(entries[name]!.values, tensor: name, precision: device.precision, suffix: suffix)
            }
        }
        for name in parameterNames { try parameters[name]!.assign(entries[name]!.values) }
    }

    /// Which LSTM variant a list of parameter names belongs to ("plain", or e.g. "projection, peephole").
    static func variant(of names: some Sequence<String>) -> String {
        var projection = false, peephole = false, layerNorm = false
        for n in names {
            projection = projection || n.hasPrefix("weight_hr")
            peephole = peephole || n.hasPrefix("peephole_")
            layerNorm = layerNorm || n.hasPrefix("ln_")
        }
        let parts = [(projection, "projection"), (peephole, "peephole"), (layerNorm, "layer norm")].filter(\.0).map(\.1)
        return parts.isEmpty ? "plain" : parts.joined(separator: ", ")
    }

    /// Saves the parameters as safetensors with PyTorch's names (F32, or F64 on a Float64 device),
    /// atomically: a crash never leaves a half-written file.
    public func save(to url: URL) throws {
        let dtype = device.precision == .float64 ? "F64" : "F32"
        let entries = try parameterNames.map { name in
            (name: name, entry: SafeTensors.Entry(dtype: dtype, shape: parameters[name]!.shape, values: try parameters[name]!.toDoubles()))
        }
        try SafeTensors.write(entries, metadata: ["format": "pt", "producer": "LSTMKit"], to: url)
    }

    /// Loads parameters from a safetensors file written here or by PyTorch (`safetensors.torch.save_file`).
    /// Strict as `loadStateDict`; errors name the tensor and the file.
    public func load(from url: URL, allowNonFinite: Bool = false) throws {
        try loadStateDict(try SafeTensors.read(url), allowNonFinite: allowNonFinite, source: url.lastPathComponent)
    }
}
