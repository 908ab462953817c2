import Foundation
import SwiftProtobuf

/// ONNX export of a `Sequential` and of the PyTorch-style cores (`LSTM`, `GRU`): opset 17, IR version 8, a dynamic
/// batch axis ("batch") and a dynamic sequence axis ("seq"). The graph computes what `predict` (or the core's
/// `forward` in inference mode) computes.
///
/// The conversions:
/// - **LSTM gates.** LSTMKit (PyTorch) stacks the gates i, f, g, o; ONNX's `LSTM` wants i, o, f, c. `W` is
///   `[D, 4H, in]` (the `weight_ih` blocks reordered), `R` `[D, 4H, H]` (`weight_hh`), `B` `[D, 8H]` = the reordered
///   `bias_ih` (ONNX's Wb) then the reordered `bias_hh` (Rb). Peepholes go to `P` `[D, 3H]` in ONNX's order i, o, f.
/// - **GRU gates.** PyTorch's r, z, n become ONNX's z, r, h, with `linear_before_reset = 1` (PyTorch applies the
///   reset gate after the recurrent product, bias included: `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`).
/// - **Layout.** ONNX's recurrent operators run time-major (`[T, B, F]`; onnxruntime's CPU LSTM rejects
///   `layout = 1`), so a batch-first input goes through `Transpose(perm 1,0,2)`, and `Y` `[T, D, B, H]` through
///   `Transpose(perm 2,0,1,3)` + `Reshape [0,0,-1]` back to `[B, T, D*H]` (forward direction first, as PyTorch
///   and `Bidirectional(.concat)`); other merge modes reduce over the direction axis.
/// - **Lengths.** `Embedding(maskZero: true)`: the lengths are the counts of non-zero ids per row (LSTMKit requires
///   the padding on the right, so this is the position of the first 0), passed as `sequence_lens` (int32). ONNX's
///   `Y` is 0 past a length, `Y_h` is each sequence's last valid state and the reverse direction starts at that
///   step, as in LSTMKit. `returnSequences: false` takes `Y_h`.
/// - **Layers.** Embedding → `Gather`; Dense / TimeDistributed(Dense) → `MatMul` (by `weightᵀ`) + `Add` and the
///   activation (`Relu`, `Tanh`, `Sigmoid`, `Softmax(axis -1)`); Dropout is dropped (inference). Stateful layers
///   start from zeros (as after `resetStates()`); recurrent dropout is training-only and so dropped.
/// - **Cell clipping.** ONNX's LSTM `clip` clamps the gates' pre-activations, not the cell state (measured with
///   onnxruntime 1.32), so an LSTM with `cellClip` is written as one `Scan` per direction over the same W/R/B/P
///   initializers (`scanLSTM`), with `Clip` on c.
/// - **Not expressible** (`ONNXError.unsupportedLayer`, naming the layer and option): a projection (`projSize`),
///   layer norm, and a core in training mode with dropout or recurrent dropout.
public enum ONNXExport {
    /// The opset the exporter writes.
    public static let opset: Int64 = 17
    /// The metadata key under which the exported Sequential's architecture (`model.json`'s content) is stored.
    public static let modelMetadataKey = "lstmkit.model"

    /// The ONNX model of `model` (built, e.g. by `fit` or `predict`), serialized. The input is "input": int64 token
    /// ids `[batch, seq]` when the first layer is an `Embedding`, else float `[batch, seq, features]`; the output is
    /// "output", `predict`'s values. `metadata` is stored in the model's `metadata_props`.
    public static func data(_ model: Sequential, metadata: [String: String] = [:]) throws -> Data {
        try serialize(try proto(model, metadata: metadata))
    }

    /// Writes `data(model, metadata:)` to `url` (atomically).
    public static func write(_ model: Sequential, to url: URL, metadata: [String: String] = [:]) throws {
        try write(try data(model, metadata: metadata), to: url)
    }

    /// The ONNX model of an `LSTM` core, serialized. Inputs: "input" (`[T, B, F]`, batch-first `[B, T, F]`) and,
    /// with `lengths`, "lengths" (int32 `[B]`, each in 1...T). Outputs "output" (as `forward`'s), "h_n", "c_n".
    public static func data(_ lstm: LSTM, lengths: Bool = false) throws -> Data {
        try serialize(try coreProto(lstm, lengths: lengths))
    }

    /// The ONNX model of a `GRU` core (as `data(_: LSTM, lengths:)`, without "c_n").
    public static func data(_ gru: GRU, lengths: Bool = false) throws -> Data {
        try serialize(try coreProto(gru, lengths: lengths))
    }

    public static func write(_ lstm: LSTM, to url: URL, lengths: Bool = false) throws { try write(try data(lstm, lengths: lengths), to: url) }
    public static func write(_ gru: GRU, to url: URL, lengths: Bool = false) throws { try write(try data(gru, lengths: lengths), to: url) }

    static func write(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch {
            throw LSTMKitError.io(path: url.path, reason: "cannot write the ONNX model: \(error.localizedDescription)")
        }
    }

    static func serialize(_ model: Onnx_ModelProto) throws -> Data {
        do { return try model.serializedData() } catch {
            throw ONNXError.invalidModel(what: "export", reason: "protobuf serialization failed: \(error)")
        }
    }

    // MARK: Sequential

    static func proto(_ model: Sequential, metadata: [String: String]) throws -> Onnx_ModelProto {
        guard let inputShape = model.inputShape, let outputShape = model.outputShape else {
            throw LSTMKitError.invalidArgument(name: "ONNX export", value: "Sequential", reason: "the model is not built yet (fit, predict or build it first)")
        }
        let b = GraphBuilder(name: "lstmkit_sequential")
        let tokens = firstLayer(model) is Embedding
        var dims: [Dim] = [.param("batch")] + inputShape.map { .fixed($0) }
        if dims.count >= 3 || (tokens && dims.count == 2) { dims[1] = .param("seq") }
        b.input("input", type: tokens ? .int64 : .float, dims: dims)
        var value = Value(name: "input", hasTime: inputShape.count >= (tokens ? 1 : 2), lengths: nil)
        value = try exportLayers(model.layers, path: "", value, b)
        var outDims: [Dim] = [.param("batch")] + outputShape.map { .fixed($0) }
        if value.hasTime, outDims.count >= 3 { outDims[1] = .param("seq") }
        b.add("Identity", [value.name], outputs: ["output"])
        b.output("output", type: .float, dims: outDims)

        var m = newModel(b)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let spec = ModelSpec(inputShape: inputShape, seed: model.seed, layers: model.layers.map { AnyLayerConfig(layer: $0) })
        let json = String(decoding: try encoder.encode(spec), as: UTF8.self)
        for (k, v) in metadata.merging([modelMetadataKey: json], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            var e = Onnx_StringStringEntryProto(); e.key = k; e.value = v
            m.metadataProps.append(e)
        }
        return m
    }

    private static func firstLayer(_ model: Sequential) -> Layer? {
        var l = model.layers.first
        while let s = l as? Sequential { l = s.layers.first }
        return l
    }

    /// A value of the graph: its name, whether it has a time axis (`[B, T, ...]`), and the int32 lengths, if any.
    struct Value { var name: String; var hasTime: Bool; var lengths: String? }

    private static func exportLayers(_ layers: [Layer], path: String, _ input: Value, _ b: GraphBuilder) throws -> Value {
        var v = input
        for (i, layer) in layers.enumerated() {
            let label = "\(path)\(i)"
            let what = "\(label) (\(AnyLayerConfig(layer: layer).className))"
            switch layer {
            case let s as Sequential: v = try exportLayers(s.layers, path: label + ".", v, b)
            case is Dropout, is Input: continue
            case let e as Embedding:
                guard let w = e.namedParameters.first?.tensor else { throw notBuilt(what) }
                let table = b.floats("\(label).weight", dims: [e.inputDim, e.outputDim], try w.toArray())
                let out = b.add("Gather", [table, v.name], name: "\(label)_Gather", [attr("axis", 0)])[0]
                var lengths: String? = nil
                if e.maskZero {
                    let zero = b.int64s("\(label).padding_id", [0], scalar: true)
                    let eq = b.add("Equal", [v.name, zero], name: "\(label)_is_padding")[0]
                    let valid = b.add("Not", [eq], name: "\(label)_is_token")[0]
                    let asInt = b.add("Cast", [valid], name: "\(label)_token_count", [attr("to", Int(Onnx_TensorProto.DataType.int32.rawValue))])[0]
                    lengths = b.add("ReduceSum", [asInt, b.int64s("\(label).time_axis", [1])], name: "\(label)_lengths", [attr("keepdims", 0)])[0]
                }
                v = Value(name: out, hasTime: true, lengths: lengths)
            case let t as TimeDistributed where t.inner is Dense: v = try dense(t.inner as! Dense, label: label, what: what, v, b)
            case let d as Dense: v = try dense(d, label: label, what: what, v, b)
            case let r as RecurrentLayer where r.goBackwards:
                throw ONNXError.unsupportedLayer(layer: what, option: "goBackwards", reason: "no ONNX conversion for a layer that reads its input backwards")
            case let r as RecurrentLayer: v = try recurrentLayer(r, merge: nil, label: label, what: what, v, b)
            case let r as Bidirectional: v = try recurrentLayer(r.layer, merge: r.mergeMode, core: r.core, label: label, what: what, v, b)
            default:
                throw ONNXError.unsupportedLayer(layer: what, option: "type", reason: "no ONNX conversion for \(type(of: layer))")
            }
        }
        return v
    }

    private static func notBuilt(_ what: String) -> Error {
        LSTMKitError.invalidArgument(name: "ONNX export", value: what, reason: "the layer is not built")
    }

    private static func dense(_ d: Dense, label: String, what: String, _ v: Value, _ b: GraphBuilder) throws -> Value {
        let params = d.namedParameters
        guard let w = params.first?.tensor else { throw notBuilt(what) }
        let units = w.shape[0], inF = w.shape[1]
        let wv = try w.toArray()
        var wt = [Float](repeating: 0, count: wv.count)   // weightᵀ [in, units]
        for o in 0..<units { for k in 0..<inF { wt[k * units + o] = wv[o * inF + k] } }
        var out = b.add("MatMul", [v.name, b.floats("\(label).weight_t", dims: [inF, units], wt)], name: "\(label)_MatMul")[0]
        if params.count > 1 {
            out = b.add("Add", [out, b.floats("\(label).bias", dims: [units], try params[1].tensor.toArray())], name: "\(label)_Add")[0]
        }
        switch d.activation {
        case .linear: break
        case .relu: out = b.add("Relu", [out], name: "\(label)_Relu")[0]
        case .tanh: out = b.add("Tanh", [out], name: "\(label)_Tanh")[0]
        case .sigmoid: out = b.add("Sigmoid", [out], name: "\(label)_Sigmoid")[0]
        case .softmax: out = b.add("Softmax", [out], name: "\(label)_Softmax", [attr("axis", -1)])[0]
        case .hardSigmoid:  // Keras's relu6(x + 3) / 6 = max(0, min(1, x / 6 + 0.5))
            out = b.add("HardSigmoid", [out], name: "\(label)_HardSigmoid", [attr("alpha", Float(1.0 / 6.0)), attr("beta", Float(0.5))])[0]
        case .elu: out = b.add("Elu", [out], name: "\(label)_Elu")[0]
        case .selu: out = b.add("Selu", [out], name: "\(label)_Selu")[0]
        case .softplus: out = b.add("Softplus", [out], name: "\(label)_Softplus")[0]
        case .gelu:  // opset 17 has no Gelu: 0.5 x (1 + erf(x / sqrt 2))
            let scaled = b.add("Mul", [out, b.floats("\(label).inv_sqrt2", dims: [], [Float(0.7071067811865476)])], name: "\(label)_gelu_scale")[0]
            let erf = b.add("Erf", [scaled], name: "\(label)_gelu_erf")[0]
            let one = b.add("Add", [erf, b.floats("\(label).one", dims: [], [1])], name: "\(label)_gelu_add")[0]
            let half = b.add("Mul", [out, b.floats("\(label).half", dims: [], [0.5])], name: "\(label)_gelu_half")[0]
            out = b.add("Mul", [half, one], name: "\(label)_gelu")[0]
        }
        return Value(name: out, hasTime: v.hasTime, lengths: v.lengths)
    }

    private static func recurrentLayer(_ r: RecurrentLayer, merge: MergeMode?, core explicitCore: RecurrentCore? = nil, label: String,
                                       what: String, _ v: Value, _ b: GraphBuilder) throws -> Value {
        guard let core = explicitCore ?? r.core else { throw notBuilt(what) }
        guard v.hasTime else { throw ONNXError.unsupportedLayer(layer: what, option: "input", reason: "a recurrent layer needs [batch, seq, features]") }
        let x = b.add("Transpose", [v.name], name: "\(label)_to_time_major", [attr("perm", [1, 0, 2])])[0]
        let (y, yh, _) = try recurrentNode(core, layer: 0, label: label, what: what, x: x, lengths: v.lengths, b)
        let D = merge == nil ? 1 : 2
        if r.returnSequences {
            let bt = b.add("Transpose", [y], name: "\(label)_to_batch_first", [attr("perm", [2, 0, 1, 3])])[0]   // [B, T, D, H]
            if D == 2, let merge, merge != .concat {
                return Value(name: reduceDirections(bt, axis: 2, merge, label: label, b), hasTime: true, lengths: v.lengths)
            }
            let out = b.add("Reshape", [bt, b.int64s("\(label).shape_b_t_dh", [0, 0, -1])], name: "\(label)_merge_directions")[0]
            return Value(name: out, hasTime: true, lengths: v.lengths)
        }
        let bh = b.add("Transpose", [yh], name: "\(label)_last_step", [attr("perm", [1, 0, 2])])[0]   // [B, D, H]
        if D == 2, let merge, merge != .concat {
            return Value(name: reduceDirections(bh, axis: 1, merge, label: label, b), hasTime: false, lengths: nil)
        }
        let out = b.add("Reshape", [bh, b.int64s("\(label).shape_b_dh", [0, -1])], name: "\(label)_merge_directions")[0]
        return Value(name: out, hasTime: false, lengths: nil)
    }

    private static func reduceDirections(_ x: String, axis: Int64, _ merge: MergeMode, label: String, _ b: GraphBuilder) -> String {
        let op = [MergeMode.sum: "ReduceSum", .mul: "ReduceProd", .average: "ReduceMean"][merge]!
        if op == "ReduceSum" {   // opset 13+: axes as an input
            return b.add(op, [x, b.int64s("\(label).direction_axis", [axis])], name: "\(label)_\(merge.rawValue)", [attr("keepdims", 0)])[0]
        }
        return b.add(op, [x], name: "\(label)_\(merge.rawValue)", [attr("axes", [axis]), attr("keepdims", 0)])[0]
    }

    /// LSTMKit (PyTorch) gate blocks → ONNX's: LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h.
    static let lstmToONNX = [0, 3, 1, 2], gruToONNX = [1, 0, 2]

    /// Block k of the result is block `order[k]` of `v` (`v` is `blocks` equal row blocks, row-major).
    static func reorder(_ v: [Float], blocks: Int, _ order: [Int]) -> [Float] {
        let size = v.count / blocks
        return order.flatMap { v[($0 * size)..<(($0 + 1) * size)] }
    }

    /// Only the default activations are exported (tanh, sigmoid): any other is refused with a typed error.
    private static func refuseActivations(_ activation: Activation, _ recurrentActivation: Activation, what: String) throws {
        if activation != .tanh {
            throw ONNXError.unsupportedLayer(layer: what, option: "activation \(activation.rawValue)", reason: "the export writes tanh only")
        }
        if recurrentActivation != .sigmoid {
            throw ONNXError.unsupportedLayer(layer: what, option: "recurrentActivation \(recurrentActivation.rawValue)",
                                             reason: "the export writes sigmoid only")
        }
    }

    /// One ONNX LSTM/GRU node for layer `layer` of `core` (both directions when bidirectional), on the time-major `x`.
    /// Returns Y `[T, D, B, H]`, Y_h `[D, B, H]` and (LSTM) Y_c `[D, B, H]`. An LSTM with cell clipping becomes one
    /// `Scan` per direction instead (see `scanLSTM`), with the same initializers.
    static func recurrentNode(_ core: RecurrentCore, layer l: Int, label: String, what: String, x: String, lengths: String?,
                              _ b: GraphBuilder) throws -> (y: String, yh: String, yc: String?) {
        let isLSTM: Bool, H: Int, D: Int, bias: Bool, peephole: Bool
        var clip: Double? = nil
        if let lstm = core as? LSTM {
            try refuseActivations(lstm.activation, lstm.recurrentActivation, what: what)
            if lstm.projSize > 0 {
                throw ONNXError.unsupportedLayer(layer: what, option: "projSize \(lstm.projSize)", reason: "ONNX's LSTM has no projection")
            }
            if lstm.layerNorm {
                throw ONNXError.unsupportedLayer(layer: what, option: "layerNorm", reason: "ONNX's LSTM has no layer normalisation")
            }
            clip = lstm.cellClip
            isLSTM = true; H = lstm.hiddenSize; D = lstm.numDirections; bias = lstm.bias; peephole = lstm.peephole
        } else if let gru = core as? GRU {
            try refuseActivations(gru.activation, gru.recurrentActivation, what: what)
            isLSTM = false; H = gru.hiddenSize; D = gru.numDirections; bias = gru.bias; peephole = false
        } else {
            throw ONNXError.unsupportedLayer(layer: what, option: "core", reason: "no ONNX conversion for \(type(of: core))")
        }
        let G = isLSTM ? 4 : 3, order = isLSTM ? lstmToONNX : gruToONNX
        var w: [Float] = [], r: [Float] = [], bb: [Float] = [], p: [Float] = []
        var inputSize = 0
        for d in 0..<D {
            let s = "_l\(l)" + (d == 1 ? "_reverse" : "")
            func get(_ n: String) throws -> Tensor {
                guard let t = core.parameters[n + s] else { throw notBuilt("\(what) parameter \(n + s)") }
                return t
            }
            let wih = try get("weight_ih")
            inputSize = wih.shape[1]
            w += reorder(try wih.toArray(), blocks: G, order)
            r += reorder(try get("weight_hh").toArray(), blocks: G, order)
            if bias {
                bb += reorder(try get("bias_ih").toArray(), blocks: G, order)
                bb += reorder(try get("bias_hh").toArray(), blocks: G, order)
            }
            if peephole {   // ONNX P: i, o, f
                p += try get("peephole_i").toArray() + get("peephole_o").toArray() + get("peephole_f").toArray()
            }
        }
        let prefix = "\(label).\(isLSTM ? "lstm" : "gru")_l\(l)"
        var inputs = [x, b.floats("\(prefix).W", dims: [D, G * H, inputSize], w), b.floats("\(prefix).R", dims: [D, G * H, H], r),
                      bias ? b.floats("\(prefix).B", dims: [D, 2 * G * H], bb) : "", lengths ?? ""]
        if peephole { inputs += ["", "", b.floats("\(prefix).P", dims: [D, 3 * H], p)] }
        if let clip {
            return scanLSTM(label: "\(label)_l\(l)", x: x, W: inputs[1], R: inputs[2], B: bias ? inputs[3] : nil, P: peephole ? inputs[7] : nil,
                            lengths: lengths, D: D, H: H, clip: Float(clip), b)
        }
        while inputs.last == "" { inputs.removeLast() }
        var attrs = [attr("hidden_size", H), attr("direction", D == 2 ? "bidirectional" : "forward")]
        if !isLSTM { attrs.append(attr("linear_before_reset", 1)) }
        let outs = b.add(isLSTM ? "LSTM" : "GRU", inputs, name: "\(label)_\(isLSTM ? "LSTM" : "GRU")_l\(l)", outputs: isLSTM ? 3 : 2, attrs)
        return (outs[0], outs[1], isLSTM ? outs[2] : nil)
    }

    /// An LSTM with LSTMKit's cell clipping, which ONNX's LSTM cannot express (its `clip` clamps the gates'
    /// pre-activations): per direction d, `XW = X · W[d]ᵀ + Wb[d] + Rb[d]` for all steps, then a `Scan` whose body runs
    /// one step on the gates in ONNX's order i, o, f, c: `a = XW_t + h · R[d]ᵀ`, peepholes as ONNX's, `c = Clip(f*c +
    /// i*g, -clip, clip)`, `h = o * tanh(c)`. With lengths, a step past a sequence's length keeps h and c and outputs
    /// 0 (`Where` on the step mask), and the reverse direction runs on `ReverseSequence`d steps, so it starts at each
    /// sequence's last valid step; without, the reverse direction is the Scan's reverse direction. The outputs are
    /// stacked as the LSTM node's Y, Y_h, Y_c.
    static func scanLSTM(label: String, x: String, W: String, R: String, B: String?, P: String?, lengths: String?, D: Int, H: Int,
                         clip: Float, _ b: GraphBuilder) -> (y: String, yh: String, yc: String) {
        let shape = b.add("Shape", [x], name: "\(label)_shape")[0]
        let batch = b.add("Gather", [shape, b.int64s("\(label).one", [1])], name: "\(label)_batch", [attr("axis", 0)])[0]
        let zeros = b.add("ConstantOfShape", [b.add("Concat", [batch, b.int64s("\(label).hidden", [Int64(H)])], name: "\(label)_state_shape",
                                                    [attr("axis", 0)])[0]], name: "\(label)_zero_state")[0]   // [B, H] zeros
        var mask: String, lengths64: String? = nil
        if let lengths {
            let steps = b.add("Gather", [shape, b.int64s("\(label).zero", [0], scalar: true)], name: "\(label)_steps", [attr("axis", 0)])[0]
            let t = b.add("Range", [b.int64s("\(label).start", [0], scalar: true), steps, b.int64s("\(label).delta", [1], scalar: true)],
                          name: "\(label)_time")[0]
            lengths64 = b.add("Cast", [lengths], name: "\(label)_lengths64", [attr("to", Int(Onnx_TensorProto.DataType.int64.rawValue))])[0]
            let tCol = b.add("Unsqueeze", [t, b.int64s("\(label).axis1", [1])], name: "\(label)_time_column")[0]            // [T, 1]
            let lRow = b.add("Unsqueeze", [lengths64!, b.int64s("\(label).axis0", [0])], name: "\(label)_lengths_row")[0]   // [1, B]
            let valid = b.add("Less", [tCol, lRow], name: "\(label)_valid")[0]                                           // [T, B]
            mask = b.add("Unsqueeze", [valid, b.int64s("\(label).axis2", [2])], name: "\(label)_mask")[0]                   // [T, B, 1]
        } else {
            let tb = b.add("Slice", [shape, b.int64s("\(label).s0", [0]), b.int64s("\(label).s2", [2])], name: "\(label)_t_b")[0]
            let maskShape = b.add("Concat", [tb, b.int64s("\(label).one_more", [1])], name: "\(label)_mask_shape", [attr("axis", 0)])[0]
            var v = Onnx_AttributeProto(); v.name = "value"; v.type = .tensor
            var t = Onnx_TensorProto(); t.dataType = Int32(Onnx_TensorProto.DataType.bool.rawValue); t.dims = [1]; t.int32Data = [1]
            v.t = t
            mask = b.add("ConstantOfShape", [maskShape], name: "\(label)_mask", [v])[0]                                  // all true
        }
        let split = b.int64s("\(label).gate_sizes", Array(repeating: Int64(H), count: 4))
        let low = b.floats("\(label).clip_min", dims: [], [-clip]), high = b.floats("\(label).clip_max", dims: [], [clip])
        let zero = b.floats("\(label).zero_output", dims: [], [0])
        var ys: [String] = [], hs: [String] = [], cs: [String] = []
        for d in 0..<D {
            let dl = "\(label)_d\(d)", index = b.int64s("\(dl).direction", [Int64(d)], scalar: true)
            let wT = b.add("Transpose", [b.add("Gather", [W, index], name: "\(dl)_W", [attr("axis", 0)])[0]], name: "\(dl)_W_t", [attr("perm", [1, 0])])[0]
            let rT = b.add("Transpose", [b.add("Gather", [R, index], name: "\(dl)_R", [attr("axis", 0)])[0]], name: "\(dl)_R_t", [attr("perm", [1, 0])])[0]
            var xw = b.add("MatMul", [x, wT], name: "\(dl)_input_projection")[0]                                       // [T, B, 4H]
            if let B {
                let bd = b.add("Gather", [B, index], name: "\(dl)_B", [attr("axis", 0)])[0]
                let halves = b.add("Split", [bd, b.int64s("\(dl).bias_halves", [Int64(4 * H), Int64(4 * H)])], name: "\(dl)_Wb_Rb", outputs: 2,
                                   [attr("axis", 0)])
                xw = b.add("Add", [xw, b.add("Add", [halves[0], halves[1]], name: "\(dl)_bias")[0]], name: "\(dl)_input_plus_bias")[0]
            }
            var peep: [String] = []
            if let P {
                let pd = b.add("Gather", [P, index], name: "\(dl)_P", [attr("axis", 0)])[0]
                peep = b.add("Split", [pd, b.int64s("\(dl).peephole_sizes", [Int64(H), Int64(H), Int64(H)])], name: "\(dl)_P_iof", outputs: 3,
                             [attr("axis", 0)])
            }
            let reverse = d == 1
            var scanX = xw
            if reverse, let lengths64 {
                scanX = b.add("ReverseSequence", [xw, lengths64], name: "\(dl)_reverse_steps", [attr("batch_axis", 1), attr("time_axis", 0)])[0]
            }
            // The body: one step.
            let body = GraphBuilder(name: "\(dl)_step")
            body.input("\(dl)_h_prev", type: .float, dims: nil)
            body.input("\(dl)_c_prev", type: .float, dims: nil)
            body.input("\(dl)_xw_t", type: .float, dims: nil)
            body.input("\(dl)_mask_t", type: .bool, dims: nil)
            let a = body.add("Add", ["\(dl)_xw_t", body.add("MatMul", ["\(dl)_h_prev", rT], name: "\(dl)_recurrent")[0]], name: "\(dl)_gates")[0]
            let g4 = body.add("Split", [a, split], name: "\(dl)_split_iofc", outputs: 4, [attr("axis", 1)])
            var (ai, ao, af) = (g4[0], g4[1], g4[2])
            if !peep.isEmpty {
                ai = body.add("Add", [ai, body.add("Mul", [peep[0], "\(dl)_c_prev"], name: "\(dl)_peephole_i")[0]], name: "\(dl)_i_with_peephole")[0]
                af = body.add("Add", [af, body.add("Mul", [peep[2], "\(dl)_c_prev"], name: "\(dl)_peephole_f")[0]], name: "\(dl)_f_with_peephole")[0]
            }
            let i = body.add("Sigmoid", [ai], name: "\(dl)_i")[0], f = body.add("Sigmoid", [af], name: "\(dl)_f")[0], g = body.add("Tanh", [g4[3]], name: "\(dl)_g")[0]
            let cRaw = body.add("Add", [body.add("Mul", [f, "\(dl)_c_prev"], name: "\(dl)_f_c")[0], body.add("Mul", [i, g], name: "\(dl)_i_g")[0]], name: "\(dl)_c_unclipped")[0]
            let c = body.add("Clip", [cRaw, low, high], name: "\(dl)_cell_clip")[0]
            if !peep.isEmpty { ao = body.add("Add", [ao, body.add("Mul", [peep[1], c], name: "\(dl)_peephole_o")[0]], name: "\(dl)_o_with_peephole")[0] }
            let o = body.add("Sigmoid", [ao], name: "\(dl)_o")[0]
            let h = body.add("Mul", [o, body.add("Tanh", [c], name: "\(dl)_tanh_c")[0]], name: "\(dl)_h")[0]
            body.add("Where", ["\(dl)_mask_t", h, "\(dl)_h_prev"], name: "\(dl)_keep_h", outputs: ["\(dl)_h_next"])
            body.add("Where", ["\(dl)_mask_t", c, "\(dl)_c_prev"], name: "\(dl)_keep_c", outputs: ["\(dl)_c_next"])
            body.add("Where", ["\(dl)_mask_t", h, zero], name: "\(dl)_y_step", outputs: ["\(dl)_y_t"])
            for n in ["\(dl)_h_next", "\(dl)_c_next", "\(dl)_y_t"] { body.output(n, type: .float, dims: nil) }
            var graphAttr = Onnx_AttributeProto(); graphAttr.name = "body"; graphAttr.type = .graph; graphAttr.g = body.graph
            var attrs = [graphAttr, attr("num_scan_inputs", 2)]
            if reverse && lengths64 == nil {
                attrs += [attr("scan_input_directions", [1, 1]), attr("scan_output_directions", [1])]
            }
            let outs = b.add("Scan", [zeros, zeros, scanX, mask], name: "\(dl)_Scan", outputs: 3, attrs)
            var y = outs[2]
            if reverse, let lengths64 {
                y = b.add("ReverseSequence", [y, lengths64], name: "\(dl)_reverse_outputs", [attr("batch_axis", 1), attr("time_axis", 0)])[0]
            }
            ys.append(b.add("Unsqueeze", [y, b.int64s("\(dl).axis1", [1])], name: "\(dl)_Y")[0])
            hs.append(b.add("Unsqueeze", [outs[0], b.int64s("\(dl).axis0", [0])], name: "\(dl)_Y_h")[0])
            cs.append(b.add("Unsqueeze", [outs[1], b.int64s("\(dl).axis0_c", [0])], name: "\(dl)_Y_c")[0])
        }
        if D == 1 { return (ys[0], hs[0], cs[0]) }
        return (b.add("Concat", ys, name: "\(label)_Y", [attr("axis", 1)])[0], b.add("Concat", hs, name: "\(label)_Y_h", [attr("axis", 0)])[0],
                b.add("Concat", cs, name: "\(label)_Y_c", [attr("axis", 0)])[0])
    }

    // MARK: Cores

    static func coreProto(_ core: RecurrentCore, lengths withLengths: Bool) throws -> Onnx_ModelProto {
        let what: String, L: Int, D: Int, H: Int, F: Int, batchFirst: Bool
        if let lstm = core as? LSTM {
            what = "LSTM"; L = lstm.numLayers; D = lstm.numDirections; H = lstm.hiddenSize; F = lstm.inputSize; batchFirst = lstm.batchFirst
            if lstm.training, lstm.recurrentDropout > 0 {
                throw ONNXError.unsupportedLayer(layer: what, option: "recurrentDropout \(lstm.recurrentDropout) in training mode",
                                                 reason: "ONNX's LSTM has no dropout: set training = false to export the inference network")
            }
            if lstm.training, lstm.dropout > 0, L > 1 {
                throw ONNXError.unsupportedLayer(layer: what, option: "dropout \(lstm.dropout) in training mode",
                                                 reason: "set training = false to export the inference network")
            }
        } else if let gru = core as? GRU {
            what = "GRU"; L = gru.numLayers; D = gru.numDirections; H = gru.hiddenSize; F = gru.inputSize; batchFirst = gru.batchFirst
            if gru.training, gru.dropout > 0, L > 1 {
                throw ONNXError.unsupportedLayer(layer: what, option: "dropout \(gru.dropout) in training mode",
                                                 reason: "set training = false to export the inference network")
            }
        } else {
            throw ONNXError.unsupportedLayer(layer: "\(type(of: core))", option: "core", reason: "no ONNX conversion")
        }
        let b = GraphBuilder(name: "lstmkit_\(what.lowercased())")
        b.input("input", type: .float, dims: batchFirst ? [.param("batch"), .param("seq"), .fixed(F)] : [.param("seq"), .param("batch"), .fixed(F)])
        var lengths: String? = nil
        if withLengths {
            b.input("lengths", type: .int32, dims: [.param("batch")])
            lengths = "lengths"
        }
        var x = batchFirst ? b.add("Transpose", ["input"], name: "to_time_major", [attr("perm", [1, 0, 2])])[0] : "input"
        var states: [String] = [], cells: [String] = []
        for l in 0..<L {
            let (y, yh, yc) = try coreLayer(core, layer: l, what: "\(what) layer \(l)", x: x, lengths: lengths, b)
            states.append(yh)
            if let yc { cells.append(yc) }
            let t = b.add("Transpose", [y], name: "l\(l)_directions_last", [attr("perm", [0, 2, 1, 3])])[0]
            x = b.add("Reshape", [t, b.int64s("l\(l).shape_t_b_dh", [0, 0, -1])], name: "l\(l)_merge_directions")[0]
        }
        if batchFirst { b.add("Transpose", [x], name: "to_batch_first", outputs: ["output"], [attr("perm", [1, 0, 2])]) }
        else { b.add("Identity", [x], outputs: ["output"]) }
        let outDims: [Dim] = batchFirst ? [.param("batch"), .param("seq"), .fixed(D * H)] : [.param("seq"), .param("batch"), .fixed(D * H)]
        b.output("output", type: .float, dims: outDims)
        b.add("Concat", states, name: "h_n_concat", outputs: ["h_n"], [attr("axis", 0)])
        b.output("h_n", type: .float, dims: [.fixed(L * D), .param("batch"), .fixed(H)])
        if !cells.isEmpty {
            b.add("Concat", cells, name: "c_n_concat", outputs: ["c_n"], [attr("axis", 0)])
            b.output("c_n", type: .float, dims: [.fixed(L * D), .param("batch"), .fixed(H)])
        }
        return newModel(b)
    }

    /// One layer of a core, with Y_c for an LSTM.
    private static func coreLayer(_ core: RecurrentCore, layer l: Int, what: String, x: String, lengths: String?,
                                  _ b: GraphBuilder) throws -> (String, String, String?) {
        try recurrentNode(core, layer: l, label: "l\(l)", what: what, x: x, lengths: lengths, b)
    }

    static func newModel(_ b: GraphBuilder) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        m.producerName = "LSTMKit"
        m.producerVersion = "1"
        var op = Onnx_OperatorSetIdProto(); op.domain = ""; op.version = opset
        m.opsetImport = [op]
        m.graph = b.graph
        return m
    }
}

// MARK: Graph building

enum Dim { case fixed(Int), param(String) }

func attr(_ name: String, _ value: Int) -> Onnx_AttributeProto {
    var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(value); return a
}
func attr(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
    var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = values; return a
}
func attr(_ name: String, _ value: Float) -> Onnx_AttributeProto {
    var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = value; return a
}
func attr(_ name: String, _ value: String) -> Onnx_AttributeProto {
    var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(value.utf8); return a
}

/// Appends nodes, initializers, inputs and outputs to a graph, with unique value names.
final class GraphBuilder {
    var graph = Onnx_GraphProto()
    private var used = Set<String>()
    init(name: String) { graph.name = name }

    func unique(_ base: String) -> String {
        var n = base, k = 1
        while used.contains(n) { k += 1; n = "\(base)_\(k)" }
        used.insert(n)
        return n
    }

    @discardableResult
    func add(_ op: String, _ inputs: [String], name: String? = nil, outputs: Int = 1, _ attrs: [Onnx_AttributeProto] = []) -> [String] {
        let base = name ?? op
        let outs = outputs == 1 ? [unique(base + "_out")] : (0..<outputs).map { unique("\(base)_out\($0)") }
        return add(op, inputs, name: base, outputs: outs, attrs)
    }

    @discardableResult
    func add(_ op: String, _ inputs: [String], name: String? = nil, outputs: [String], _ attrs: [Onnx_AttributeProto] = []) -> [String] {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = unique(name ?? op)
        n.input = inputs
        n.output = outputs
        for o in outputs { used.insert(o) }
        n.attribute = attrs
        graph.node.append(n)
        return outputs
    }

    func floats(_ name: String, dims: [Int], _ values: [Float]) -> String {
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.dims = dims.map(Int64.init)
        var raw = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        t.rawData = raw
        graph.initializer.append(t)
        return t.name
    }

    func int64s(_ name: String, _ values: [Int64], scalar: Bool = false) -> String {
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.dims = scalar ? [] : [Int64(values.count)]
        t.int64Data = values
        graph.initializer.append(t)
        return t.name
    }

    enum ElementType { case float, int64, int32, bool }

    func input(_ name: String, type: ElementType, dims: [Dim]?) {
        used.insert(name)
        graph.input.append(Self.valueInfo(name, type, dims))
    }
    func output(_ name: String, type: ElementType, dims: [Dim]?) { graph.output.append(Self.valueInfo(name, type, dims)) }

    static func valueInfo(_ name: String, _ type: ElementType, _ dims: [Dim]?) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var tt = Onnx_TypeProto.Tensor()
        let dt: Onnx_TensorProto.DataType = [ElementType.float: .float, .int64: .int64, .int32: .int32, .bool: .bool][type]!
        tt.elemType = Int32(dt.rawValue)
        var shape = Onnx_TensorShapeProto()
        shape.dim = (dims ?? []).map { d in
            var x = Onnx_TensorShapeProto.Dimension()
            switch d {
            case let .fixed(n): x.dimValue = Int64(n)
            case let .param(p): x.dimParam = p
            }
            return x
        }
        if dims != nil { tt.shape = shape }
        var tp = Onnx_TypeProto()
        tp.tensorType = tt
        v.type = tp
        return v
    }
}
