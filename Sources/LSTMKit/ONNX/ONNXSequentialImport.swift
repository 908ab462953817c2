import Foundation

extension ONNXImport {
    /// The `metadata_props` of a serialized ONNX model.
    public static func metadata(_ data: Data) throws -> [String: String] {
        var metadata: [String: String] = [:]
        for e in try parse(data).metadataProps { metadata[e.key] = e.value }
        return metadata
    }

    /// Imports an ONNX model as a `Sequential`, with the model's `metadata_props`.
    ///
    /// - A model written by `ONNXExport` (it carries its architecture under `ONNXExport.modelMetadataKey`) comes back
    ///   whole: the layers of that architecture get the weights of the file's initializers, and the model is then
    ///   exported again and must give the file's graph exactly (every node, attribute and initializer bit), so a
    ///   file whose graph does not compute what its metadata says is refused, naming the first node that differs.
    /// - Any other graph that `network(_:device:)` imports, batch-first, without `sequence_lens` and with biases,
    ///   becomes one `LSTMLayer`/`GRULayer(returnSequences: true)` per layer (in `Bidirectional` when it runs both
    ///   directions), which computes the graph's "output". `sequenceLength` is the T the model is built for; it
    ///   defaults to the graph input's fixed sequence length, if it has one.
    public static func sequential(_ data: Data, device: Device = .cpu, sequenceLength: Int? = nil) throws -> (model: Sequential, metadata: [String: String]) {
        let proto = try parse(data)
        var metadata: [String: String] = [:]
        for e in proto.metadataProps { metadata[e.key] = e.value }
        if let json = metadata[ONNXExport.modelMetadataKey] {
            // A model description that does not build (e.g. an input shape its first layer cannot take) is the file's
            // fault: named as the metadata, not as a bare shape mismatch.
            do { return (try exported(proto, spec: json, metadata: metadata, device: device), metadata) } catch let error as LSTMKitError {
                throw ONNXError.invalidModel(what: "metadata \(ONNXExport.modelMetadataKey)", reason: "the model it describes does not build: \(error.description)")
            }
        }
        let network = try GraphReader(proto).network(device: device)
        guard network.batchFirst else {
            throw ONNXError.invalidModel(what: "graph input '\(network.inputName)'", reason: "is time-major: a Sequential takes batch-first [batch, seq, features] inputs (import it with ONNXImport.network)")
        }
        guard network.lengthsName == nil else {
            throw ONNXError.invalidModel(what: "graph input '\(network.lengthsName!)'", reason: "sequence_lens: a Sequential gets lengths only from Embedding(maskZero:) (import it with ONNXImport.network)")
        }
        guard network.outputs.contains(where: { $0.value == .output }) else {
            throw ONNXError.invalidModel(what: "graph outputs", reason: "none is the recurrent stack's batch-first output, which a Sequential returns")
        }
        let core = network.core
        let (isLSTM, L, D, H, F, bias, peephole): (Bool, Int, Int, Int, Int, Bool, Bool)
        if let l = core as? LSTM { (isLSTM, L, D, H, F, bias, peephole) = (true, l.numLayers, l.numDirections, l.hiddenSize, l.inputSize, l.bias, l.peephole) }
        else if let g = core as? GRU { (isLSTM, L, D, H, F, bias, peephole) = (false, g.numLayers, g.numDirections, g.hiddenSize, g.inputSize, g.bias, false) }
        else { throw ONNXError.invalidModel(what: "core", reason: "neither LSTM nor GRU") }
        guard bias else { throw ONNXError.invalidModel(what: "recurrent nodes", reason: "have no B: LSTMKit's Keras-style layers always have biases (import it with ONNXImport.network)") }
        let declared = proto.graph.input.first { $0.name == network.inputName }?.type.tensorType.shape.dim
        let fixedT: Int? = declared.flatMap { $0.count == 3 && $0[1].dimValue > 0 && $0[1].dimValue <= Int64(Int32.max) ? Int($0[1].dimValue) : nil }
        guard let T = sequenceLength ?? fixedT, T >= 1 else {
            throw LSTMKitError.invalidArgument(name: "sequenceLength", value: "\(sequenceLength.map(String.init) ?? "nil")",
                                               reason: "the graph's sequence axis is dynamic: pass the length (at least 1) the Sequential is built for")
        }
        var layers: [Layer] = []
        for _ in 0..<L {
            let layer: RecurrentLayer = isLSTM ? LSTMLayer(units: H, returnSequences: true, peephole: peephole) : GRULayer(units: H, returnSequences: true)
            layers.append(D == 2 ? Bidirectional(layer) : layer)
        }
        let model = Sequential(layers, device: device, seed: 0)
        try model.build(inputShape: [T, F])
        for (l, layer) in model.layers.enumerated() {
            let target = (layer as? Bidirectional)?.core ?? (layer as? RecurrentLayer)?.core
            guard let target else { continue }
            for name in target.parameterNames {
                let source = name.replacingOccurrences(of: "_l0", with: "_l\(l)")
                guard let from = core.parameters[source], let to = target.parameters[name] else {
                    throw ONNXError.invalidModel(what: "layer \(l)", reason: "has no parameter \(source)")
                }
                try to.assign(try from.toArray())
            }
        }
        return (model, metadata)
    }

    /// Reads a model exported by `ONNXExport` back, and checks its graph against a fresh export.
    static func exported(_ proto: Onnx_ModelProto, spec json: String, metadata: [String: String], device: Device) throws -> Sequential {
        let spec: ModelSpec
        // Checked as model.json is (version 1 or 2, every field range-checked, at most 2^31 parameters).
        do { spec = try ModelSpec.decode(Data(json.utf8), file: "metadata \(ONNXExport.modelMetadataKey)") } catch let LSTMKitError.invalidArgument(name, value, reason) {
            throw ONNXError.invalidModel(what: name, reason: "\(value): \(reason)")
        } catch {
            throw ONNXError.invalidModel(what: "metadata \(ONNXExport.modelMetadataKey)", reason: "not an LSTMKit model description (\(error))")
        }
        var initializers: [String: Onnx_TensorProto] = [:]
        for t in proto.graph.initializer { initializers[t.name] = t }
        func tensor(_ name: String, _ dims: [Int]) throws -> [Float] {
            guard let t = initializers[name] else { throw ONNXError.invalidModel(what: "initializer '\(name)'", reason: "missing (the metadata's architecture needs it)") }
            guard t.dims == dims.map(Int64.init) else {
                throw ONNXError.invalidModel(what: "initializer '\(name)'", reason: "dims \(t.dims) do not fit the metadata's architecture (\(dims))")
            }
            let c = try ConstTensor.decode(t, what: "initializer '\(name)'")
            guard let f = c.floats else { throw ONNXError.invalidModel(what: "initializer '\(name)'", reason: "is not float") }
            return f
        }
        // Check every size the metadata gives against the (bounded) initializers before anything is allocated.
        guard spec.inputShape.count >= 1, spec.inputShape.count <= 2, spec.inputShape.allSatisfy({ $0 >= 1 && $0 <= 1 << 24 }) else {
            throw ONNXError.invalidModel(what: "metadata \(ONNXExport.modelMetadataKey)", reason: "input shape \(spec.inputShape) is not [T] or [T, features] with sizes in 1...2^24")
        }
        var weights: [String: [Float]] = [:]   // Sequential parameter name → values
        func walk(_ layers: [AnyLayerConfig], path: String, features: Int?) throws -> Int? {
            var f = features
            for (i, s) in layers.enumerated() {
                let label = "\(path)\(i)", key = "\(path)\(i)."
                func bad(_ reason: String) -> ONNXError { .invalidModel(what: "metadata layer \(label) (\(s.className))", reason: reason) }
                func positive(_ v: Int, _ name: String) throws -> Int {
                    guard v >= 1, v <= 1 << 24 else { throw bad("\(name) \(v) is not in 1...2^24") }
                    return v
                }
                /// A Dense layer's weights: weight_t, transposed back to PyTorch's [units, F], and bias.
                func dense(_ d: Dense.Config) throws {
                    let units = try positive(d.units, "units")
                    guard let inF = f else { throw bad("no input feature size") }
                    let wt = try tensor("\(label).weight_t", [inF, units])
                    var w = [Float](repeating: 0, count: wt.count)
                    for k in 0..<inF { for o in 0..<units { w[o * inF + k] = wt[k * units + o] } }
                    weights[key + "weight"] = w
                    if d.useBias { weights[key + "bias"] = try tensor("\(label).bias", [units]) }
                    f = units
                }
                /// A recurrent layer's weights (`directions` 2 for a Bidirectional); returns the output width.
                func recurrent(_ r: AnyLayerConfig, directions D: Int, merge: MergeMode?) throws {
                    let lstm = r.config(as: LSTMLayer.Config.self), gru = r.config(as: GRULayer.Config.self)
                    guard let units = lstm?.units ?? gru?.units else { throw bad("wraps \(r.className), not an LSTM or GRU") }
                    let isLSTM = lstm != nil, G = isLSTM ? 4 : 3
                    let H = try positive(units, "units")
                    guard let inF = f else { throw bad("no input feature size") }
                    let prefix = "\(label).\(isLSTM ? "lstm" : "gru")_l0"
                    let W = try tensor(prefix + ".W", [D, G * H, inF]), R = try tensor(prefix + ".R", [D, G * H, H])
                    let B = try tensor(prefix + ".B", [D, 2 * G * H])
                    let P = lstm?.peephole == true ? try tensor(prefix + ".P", [D, 3 * H]) : nil
                    for (name, v) in GraphReader.pytorchWeights(isLSTM: isLSTM, layer: 0, D: D, H: H, F: inF, W: W, R: R, B: B, P: P) {
                        weights[key + name] = v
                    }
                    f = (merge ?? .concat) == .concat ? D * H : H
                }
                switch s.config {
                case let c as Sequential.Config: f = try walk(c.layers, path: key, features: f)
                case is Dropout.Config: continue
                case let e as Embedding.Config:
                    let v = try positive(e.inputDim, "input_dim"), o = try positive(e.outputDim, "output_dim")
                    weights[key + "weight"] = try tensor("\(label).weight", [v, o])
                    f = o
                case let d as Dense.Config: try dense(d)
                case let t as TimeDistributed.Config:
                    guard let d = t.layer.config(as: Dense.Config.self) else { throw bad("wraps \(t.layer.className), not Dense") }
                    try dense(d)
                case is LSTMLayer.Config, is GRULayer.Config: try recurrent(s, directions: 1, merge: nil)
                case let b as Bidirectional.Config: try recurrent(b.layer, directions: 2, merge: b.mergeMode)
                default: throw bad("unknown layer type")
                }
            }
            return f
        }
        let tokens: Bool = {
            var l = spec.layers.first
            while let s = l?.config(as: Sequential.Config.self) { l = s.layers.first }
            return l?.className == "Embedding"
        }()
        _ = try walk(spec.layers, path: "", features: tokens ? nil : spec.inputShape.count == 2 ? spec.inputShape[1] : nil)
        let model = Sequential(try Sequential.makeLayers(spec.layers, device: device, file: "metadata \(ONNXExport.modelMetadataKey)"), device: device, seed: spec.seed)
        try model.build(inputShape: spec.inputShape)
        for (name, tensor) in model.namedParameters {
            guard let v = weights[name], v.count == tensor.count else {
                throw ONNXError.invalidModel(what: "parameter \(name)", reason: "not found in the file's initializers")
            }
            try tensor.assign(v)
        }
        let again = try ONNXExport.proto(model, metadata: [:]).graph
        let file = proto.graph
        if again != file {
            for (a, b) in zip(again.node, file.node) where a != b {
                throw ONNXError.unsupportedNode(opType: b.opType, name: GraphReader.nodeLabel(b),
                                                reason: "differs from what the \(ONNXExport.modelMetadataKey) metadata describes (expected \(a.opType) '\(a.name)')")
            }
            throw ONNXError.invalidModel(what: "graph", reason: "its nodes, initializers, inputs or outputs differ from what the \(ONNXExport.modelMetadataKey) metadata describes")
        }
        return model
    }
}
