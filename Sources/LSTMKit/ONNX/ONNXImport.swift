import Foundation
import SwiftProtobuf

/// ONNX import of recurrent networks: graphs with `LSTM` or `GRU` nodes as `torch.onnx.export` writes them for
/// `nn.LSTM`/`nn.GRU` (the nodes plus their `Transpose`, `Squeeze`, `Reshape`, `Concat`, `Slice`, `Gather`,
/// `Unsqueeze`, `Shape` and `ConstantOfShape` plumbing), as onnx's own examples write them (one node on a
/// time-major input), and as `ONNXExport` writes them.
///
/// The importer does not guess. It follows every value of the graph through an exact description of what it
/// holds: the network's input (batch-first or time-major), layer k's `Y` `[T, D, B, H]` and its reshapes, the
/// `Y_h`/`Y_c` states, zeros (`ConstantOfShape` of 0 and its slices, the initial states torch writes), shape
/// arithmetic, and constants. A node whose inputs or attributes fall outside these descriptions, an op type it
/// does not know, or an option LSTMKit has not (ONNX's `clip`, other activations, `input_forget`, `layout = 1`,
/// a GRU with `linear_before_reset = 0`, non-zero initial states), is an `ONNXError.unsupportedNode` naming the
/// node. The `LSTM`/`GRU` nodes must form one stack of equal layers (as `nn.LSTM(num_layers:)`): they become
/// one LSTMKit `LSTM` or `GRU` core, with the gates reordered back (ONNX i,o,f,c → i,f,g,o; z,r,h → r,z,n) and the
/// biases joined (Wb → `bias_ih`, Rb → `bias_hh`).
///
/// A file that is not a valid model (truncated, wrong `raw_data` sizes, negative or huge dims, missing values,
/// cycles, duplicate outputs) is an `ONNXError.invalidModel`. Sizes are checked with overflow-checked arithmetic
/// and capped (`maxElements`) before anything is allocated.
public enum ONNXImport {
    /// The most elements one initializer may hold (2^28, 1 GiB of float32).
    public static let maxElements = 1 << 28

    /// What a graph output holds, in terms of the imported core's `forward`.
    public enum Output: Equatable, Sendable {
        /// `forward`'s output: `[B, T, D*H]` (batch-first) or `[T, B, D*H]`.
        case output
        /// ONNX's `Y` of the last layer, `[T, D, B, H]`.
        case lastLayerY
        /// The hidden states `[layers.count * D, B, H]` of the given layers (all: `forward`'s `h_n`).
        case hidden(layers: Range<Int>)
        /// The cell states of the given layers (all: `forward`'s `c_n`).
        case cell(layers: Range<Int>)
    }

    /// An imported recurrent network: the core and how the graph's inputs and outputs map onto it.
    public struct Network {
        /// The imported `LSTM` or `GRU` (in inference mode: `training == false`).
        public let core: RecurrentCore
        public let batchFirst: Bool
        /// The graph input holding the sequences.
        public let inputName: String
        /// The graph input holding the lengths (`sequence_lens`), if any.
        public let lengthsName: String?
        /// The graph outputs, in the graph's order.
        public let outputs: [(name: String, value: Output)]
        /// The model's `metadata_props`.
        public let metadata: [String: String]

        /// Runs the network as the graph would: `inputs` by graph input name (`shape`, `values`; lengths as
        /// whole-number floats), outputs by graph output name, in the graph's layout.
        public func run(_ inputs: [String: (shape: [Int], values: [Float])]) throws -> [String: (shape: [Int], values: [Float])] {
            guard let x = inputs[inputName] else {
                throw LSTMKitError.invalidArgument(name: "ONNX input", value: inputName, reason: "missing from the inputs")
            }
            let device = core.device
            let tensor = try Tensor(shape: x.shape, values: x.values, device: device)
            var lengths: [Int]? = nil
            if let lengthsName {
                guard let l = inputs[lengthsName] else {
                    throw LSTMKitError.invalidArgument(name: "ONNX input", value: lengthsName, reason: "missing from the inputs")
                }
                lengths = try l.values.enumerated().map { i, v in
                    guard v == v.rounded(), v >= 0, v <= Float(Int32.max) else {
                        throw LSTMKitError.invalidArgument(name: "\(lengthsName)[\(i)]", value: "\(v)", reason: "lengths must be whole numbers")
                    }
                    return Int(v)
                }
            }
            let (y, states) = try core.forward(tensor, lengths: lengths, initialStates: nil)
            let D = states[0].shape[0] / layers, H = states[0].shape[2]
            var result: [String: (shape: [Int], values: [Float])] = [:]
            for (name, what) in outputs {
                switch what {
                case .output: result[name] = (y.shape, try y.toArray())
                case .hidden(let r), .cell(let r):
                    let s = states[what == .hidden(layers: r) ? 0 : 1]
                    let rows = s.shape[1] * H
                    result[name] = ([r.count * D, s.shape[1], H], Array(try s.toArray()[(r.lowerBound * D * rows)..<(r.upperBound * D * rows)]))
                case .lastLayerY:
                    let v = try y.toArray()
                    let (T, B) = batchFirst ? (y.shape[1], y.shape[0]) : (y.shape[0], y.shape[1])
                    var out = [Float](repeating: 0, count: v.count)
                    for t in 0..<T { for b in 0..<B { for d in 0..<D { for h in 0..<H {
                        let src = (batchFirst ? (b * T + t) : (t * B + b)) * D * H + d * H + h
                        out[((t * D + d) * B + b) * H + h] = v[src]
                    } } } }
                    result[name] = ([T, D, B, H], out)
                }
            }
            return result
        }

        var layers: Int { (core as? LSTM)?.numLayers ?? (core as? GRU)?.numLayers ?? 1 }
    }

    /// Parses a serialized ONNX model. Throws `ONNXError.invalidModel` for bytes that are not one.
    static func parse(_ data: Data) throws -> Onnx_ModelProto {
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            return try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ONNXError.invalidModel(what: "protobuf", reason: "not a serialized ONNX ModelProto (\(error))")
        }
    }

    /// Reads an ONNX file.
    static func read(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw LSTMKitError.io(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    /// Imports the recurrent network of an ONNX file onto `device`.
    public static func network(from url: URL, device: Device = .cpu) throws -> Network {
        try network(try read(url), device: device)
    }

    /// Imports the recurrent network of a serialized ONNX model onto `device`.
    public static func network(_ data: Data, device: Device = .cpu) throws -> Network {
        try GraphReader(try parse(data)).network(device: device)
    }
}

// MARK: Constants

/// A constant tensor of the graph (an initializer or a `Constant` node's value).
struct ConstTensor {
    var dims: [Int]
    var floats: [Float]?
    var ints: [Int64]?
    var count: Int { floats?.count ?? ints?.count ?? 0 }

    static func decode(_ t: Onnx_TensorProto, what: String) throws -> ConstTensor {
        func bad(_ reason: String) -> ONNXError { .invalidModel(what: what, reason: reason) }
        guard t.dataLocation != .external, t.externalData.isEmpty else { throw bad("external data is not supported") }
        guard !t.hasSegment else { throw bad("segmented tensors are not supported") }
        for d in t.dims {
            guard d >= 0 else { throw bad("negative dimension \(d) in \(t.dims)") }
            guard d <= Int64(ONNXImport.maxElements) else { throw bad("dimension \(d) is larger than \(ONNXImport.maxElements)") }
        }
        let dims = t.dims.map { Int($0) }
        guard let count = Memory.product(dims), count <= ONNXImport.maxElements else {
            throw bad("dims \(t.dims) hold more than \(ONNXImport.maxElements) elements")
        }
        let raw = t.rawData
        func rawCheck(_ size: Int) throws -> Bool {
            guard !raw.isEmpty else { return false }
            guard raw.count == count * size else { throw bad("raw_data has \(raw.count) bytes; dims \(t.dims) need \(count * size)") }
            return true
        }
        switch Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) {
        case .float:
            if try rawCheck(4) {
                let v = raw.withUnsafeBytes { b in (0..<count).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
                return ConstTensor(dims: dims, floats: v)
            }
            guard t.floatData.count == count else { throw bad("float_data has \(t.floatData.count) values; dims \(t.dims) need \(count)") }
            return ConstTensor(dims: dims, floats: t.floatData)
        case .int64:
            if try rawCheck(8) {
                let v = raw.withUnsafeBytes { b in (0..<count).map { Int64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) } }
                return ConstTensor(dims: dims, ints: v)
            }
            guard t.int64Data.count == count else { throw bad("int64_data has \(t.int64Data.count) values; dims \(t.dims) need \(count)") }
            return ConstTensor(dims: dims, ints: t.int64Data)
        case .int32:
            if try rawCheck(4) {
                let v = raw.withUnsafeBytes { b in (0..<count).map { Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) } }
                return ConstTensor(dims: dims, ints: v)
            }
            guard t.int32Data.count == count else { throw bad("int32_data has \(t.int32Data.count) values; dims \(t.dims) need \(count)") }
            return ConstTensor(dims: dims, ints: t.int32Data.map(Int64.init))
        default:
            throw bad("data type \(t.dataType) is not supported (float, int32 and int64 are)")
        }
    }
}

// MARK: The graph walk

/// What a value of the graph holds (see `ONNXImport`).
enum Symbol {
    case constant(ConstTensor)
    /// All zeros, of a shape computed at run time.
    case zeros
    /// Integers computed from shapes at run time (only good for building shapes).
    case shapeInts
    /// The sequences input, before any use.
    case input
    /// Layer k's output with the directions merged, time-major `[T, B, D*H]` or batch-first; k = -1: the input.
    case timeMajor(Int), batchFirst(Int)
    /// Layer k's `Y` `[T, D, B, H]`, transposed to `[T, B, D, H]`, or to `[B, T, D, H]`.
    case y(Int), yTBDH(Int), yBTDH(Int)
    /// Y_h (or Y_c) of layers lo..<hi, concatenated along axis 0.
    case states(cell: Bool, Range<Int>)
    /// The lengths input (int).
    case lengths
    /// A 1-D shape tensor whose entries are known symbolically (from `Shape` of a value of the stack).
    case dims([SymbolicDim])
}

/// One entry of a shape tensor: the run-time number of steps or sequences, or a known number.
enum SymbolicDim: Equatable { case steps, batch, fixed(Int64) }

/// One recurrent node's parameters, converted to PyTorch's layout.
struct RecurrentLayerWeights {
    var node: String
    var isLSTM: Bool
    var D: Int, H: Int, inputSize: Int
    var weights: [String: [Float]]   // PyTorch names with the "_l{k}[_reverse]" suffix
    var bias: Bool, peephole: Bool
}

final class GraphReader {
    let model: Onnx_ModelProto
    var graph: Onnx_GraphProto { model.graph }
    var symbols: [String: Symbol] = [:]
    var layers: [RecurrentLayerWeights] = []
    var batchFirstInput: Bool?
    var inputName = "", lengthsName: String?
    var usesLengths: Bool?
    var opset: Int64 = 0

    init(_ model: Onnx_ModelProto) { self.model = model }

    static func nodeLabel(_ n: Onnx_NodeProto) -> String { n.name.isEmpty ? "(\(n.output.first ?? "unnamed"))" : n.name }

    func unsupported(_ n: Onnx_NodeProto, _ reason: String) -> ONNXError {
        .unsupportedNode(opType: n.opType, name: Self.nodeLabel(n), reason: reason)
    }

    /// The nodes in an order where every input is produced before use; throws for cycles, duplicate producers and
    /// values nobody produces.
    func sortedNodes() throws -> [Onnx_NodeProto] {
        var known = Set(graph.initializer.map(\.name)).union(graph.input.map(\.name))
        var producer: [String: Int] = [:]
        for (i, n) in graph.node.enumerated() {
            for o in n.output where !o.isEmpty {
                guard producer[o] == nil, !known.contains(o) else {
                    throw ONNXError.invalidModel(what: "value '\(o)'", reason: "produced twice (by node \(Self.nodeLabel(n)) and another node or an input)")
                }
                producer[o] = i
            }
        }
        // Kahn's algorithm, linear in nodes + edges (a hostile file cannot make it quadratic).
        var waiting = [Int](repeating: 0, count: graph.node.count)
        var consumers: [String: [Int]] = [:]
        for (i, n) in graph.node.enumerated() {
            for input in Set(n.input) where !input.isEmpty && !known.contains(input) {
                waiting[i] += 1
                consumers[input, default: []].append(i)
            }
        }
        var ready = graph.node.indices.filter { waiting[$0] == 0 }
        var order: [Onnx_NodeProto] = [], done = Set<Int>()
        while let i = ready.popLast() {
            order.append(graph.node[i]); done.insert(i)
            for o in graph.node[i].output where !o.isEmpty {
                known.insert(o)
                for c in consumers[o] ?? [] {
                    waiting[c] -= 1
                    if waiting[c] == 0 { ready.append(c) }
                }
            }
        }
        if let stuck = graph.node.indices.first(where: { !done.contains($0) }) {
            let n = graph.node[stuck]
            let missing = n.input.first { !$0.isEmpty && producer[$0] == nil && !known.contains($0) }
            if let missing { throw ONNXError.invalidModel(what: "node \(n.opType) '\(Self.nodeLabel(n))'", reason: "its input '\(missing)' is not produced by any node, initializer or graph input") }
            throw ONNXError.invalidModel(what: "node \(n.opType) '\(Self.nodeLabel(n))'", reason: "it is part of a cycle")
        }
        return order
    }

    func symbol(_ name: String, _ n: Onnx_NodeProto) throws -> Symbol {
        guard let s = symbols[name] else { throw ONNXError.invalidModel(what: "node \(n.opType) '\(Self.nodeLabel(n))'", reason: "input '\(name)' has no value") }
        return s
    }

    func constInts(_ name: String, _ n: Onnx_NodeProto, _ what: String) throws -> [Int64] {
        guard case let .constant(c)? = symbols[name], let ints = c.ints else { throw unsupported(n, "\(what) must be a constant integer tensor") }
        return ints
    }

    func attribute(_ n: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? { n.attribute.first { $0.name == name } }
    func intAttribute(_ n: Onnx_NodeProto, _ name: String) -> Int64? { attribute(n, name).map(\.i) }
    func intsAttribute(_ n: Onnx_NodeProto, _ name: String) -> [Int64]? { attribute(n, name).map(\.ints) }

    func network(device: Device) throws -> ONNXImport.Network {
        let ops = model.opsetImport.filter { $0.domain == "" || $0.domain == "ai.onnx" }
        guard let op = ops.first else { throw ONNXError.invalidModel(what: "opset_import", reason: "no default-domain (ai.onnx) opset") }
        guard (7...23).contains(op.version) else {
            throw ONNXError.invalidModel(what: "opset_import", reason: "opset \(op.version) is outside 7...23, the opsets this importer knows")
        }
        opset = op.version
        for t in graph.initializer {
            guard !t.name.isEmpty else { throw ONNXError.invalidModel(what: "initializer", reason: "has no name") }
            symbols[t.name] = .constant(try ConstTensor.decode(t, what: "initializer '\(t.name)'"))
        }
        for i in graph.input where symbols[i.name] == nil {
            let elem = i.type.tensorType.elemType
            switch Onnx_TensorProto.DataType(rawValue: Int(elem)) {
            case .float:
                guard inputName.isEmpty else {
                    throw ONNXError.invalidModel(what: "graph input '\(i.name)'", reason: "a second float input (the first is '\(inputName)'): only the sequences and the lengths are inputs")
                }
                inputName = i.name; symbols[i.name] = .input
            case .int32, .int64:
                guard lengthsName == nil else { throw ONNXError.invalidModel(what: "graph input '\(i.name)'", reason: "a second integer input: only one (the lengths) is allowed") }
                lengthsName = i.name; symbols[i.name] = .lengths
            default:
                throw ONNXError.invalidModel(what: "graph input '\(i.name)'", reason: "element type \(elem): the sequences must be float, the lengths int32 or int64")
            }
        }
        guard !inputName.isEmpty else { throw ONNXError.invalidModel(what: "graph inputs", reason: "no float input for the sequences") }

        for n in try sortedNodes() { try evaluate(n) }
        guard let first = layers.first else { throw ONNXError.invalidModel(what: "graph", reason: "has no LSTM or GRU node") }
        for l in layers.dropFirst() where l.isLSTM != first.isLSTM || l.D != first.D || l.H != first.H || l.bias != first.bias || l.peephole != first.peephole {
            throw ONNXError.unsupportedNode(opType: l.isLSTM ? "LSTM" : "GRU", name: l.node,
                                            reason: "differs from the first layer's kind, direction, hidden size, bias or peepholes: LSTMKit's stacked cores have equal layers")
        }
        let batchFirst = batchFirstInput ?? false
        let L = layers.count
        if let dims = graph.input.first(where: { $0.name == inputName })?.type.tensorType.shape.dim, dims.count == 3,
           case let .dimValue(f)? = dims[2].value, f != Int64(first.inputSize) {
            throw ONNXError.invalidModel(what: "graph input '\(inputName)'", reason: "declares \(f) features; the first layer's W takes \(first.inputSize)")
        }
        var outputs: [(String, ONNXImport.Output)] = []
        for o in graph.output {
            switch symbols[o.name] {
            case .timeMajor(L - 1)? where !batchFirst, .batchFirst(L - 1)? where batchFirst: outputs.append((o.name, .output))
            case .y(L - 1)?: outputs.append((o.name, .lastLayerY))
            case let .states(cell, r)?: outputs.append((o.name, cell ? .cell(layers: r) : .hidden(layers: r)))
            default:
                throw ONNXError.invalidModel(what: "graph output '\(o.name)'",
                                             reason: "is not the recurrent stack's output, its last layer's Y or its states (in the input's layout)")
            }
        }
        let core: RecurrentCore
        if first.isLSTM {
            let lstm = try LSTM(inputSize: first.inputSize, hiddenSize: first.H, numLayers: L, bias: first.bias, batchFirst: batchFirst,
                                bidirectional: first.D == 2, peephole: first.peephole, device: device)
            lstm.training = false
            core = lstm
        } else {
            let gru = try GRU(inputSize: first.inputSize, hiddenSize: first.H, numLayers: L, bias: first.bias, batchFirst: batchFirst,
                              bidirectional: first.D == 2, device: device)
            gru.training = false
            core = gru
        }
        for l in layers {
            for (name, values) in l.weights {
                guard let t = core.parameters[name], t.count == values.count else {
                    throw ONNXError.unsupportedNode(opType: l.isLSTM ? "LSTM" : "GRU", name: l.node, reason: "weight \(name) does not fit the stacked core")
                }
                try t.assign(values)
            }
        }
        var metadata: [String: String] = [:]
        for e in model.metadataProps { metadata[e.key] = e.value }
        return ONNXImport.Network(core: core, batchFirst: batchFirst, inputName: inputName,
                                  lengthsName: usesLengths == true ? lengthsName : nil, outputs: outputs, metadata: metadata)
    }

    /// Gives each output of `n` its symbol, or throws.
    func evaluate(_ n: Onnx_NodeProto) throws {
        guard n.domain == "" || n.domain == "ai.onnx" else { throw unsupported(n, "domain '\(n.domain)' is not ONNX's default domain") }
        let ins = try n.input.map { $0.isEmpty ? nil : try symbol($0, n) }
        func set(_ s: Symbol, _ k: Int = 0) { if k < n.output.count, !n.output[k].isEmpty { symbols[n.output[k]] = s } }
        func allShapeLike(_ list: [Symbol?]) -> Bool {
            list.allSatisfy { s in
                switch s { case nil, .constant?, .shapeInts?, .dims?: return true; default: return false }
            }
        }
        let first = ins.first ?? nil
        switch n.opType {
        case "Constant":
            guard let a = n.attribute.first else { throw unsupported(n, "has no value") }
            switch a.name {
            case "value": set(.constant(try ConstTensor.decode(a.t, what: "Constant '\(Self.nodeLabel(n))'")))
            case "value_ints": set(.constant(ConstTensor(dims: [a.ints.count], ints: a.ints)))
            case "value_int": set(.constant(ConstTensor(dims: [], ints: [a.i])))
            case "value_floats": set(.constant(ConstTensor(dims: [a.floats.count], floats: a.floats)))
            case "value_float": set(.constant(ConstTensor(dims: [], floats: [a.f])))
            default: throw unsupported(n, "attribute \(a.name) is not supported")
            }
        case "Identity":
            guard let s = first else { throw unsupported(n, "has no input") }
            set(s)
        case "Dropout":   // inference: the identity (a training_mode input must be a constant false)
            guard let s = first else { throw unsupported(n, "has no input") }
            if n.input.count > 2, !n.input[2].isEmpty {
                guard case let .constant(c)? = ins[2], c.ints == [0] || c.floats == [0] else {
                    throw unsupported(n, "training_mode must be a constant false")
                }
            }
            set(s)
            if n.output.count > 1 { set(.shapeInts, 1) }   // the mask: not usable as data
        case "Shape":
            var dims: [SymbolicDim]? = nil
            switch first {
            case let .y(k)?: dims = [.steps, .fixed(Int64(layers[k].D)), .batch, .fixed(Int64(layers[k].H))]
            case let .yTBDH(k)?: dims = [.steps, .batch, .fixed(Int64(layers[k].D)), .fixed(Int64(layers[k].H))]
            case let .yBTDH(k)?: dims = [.batch, .steps, .fixed(Int64(layers[k].D)), .fixed(Int64(layers[k].H))]
            case let .timeMajor(k)? where k >= 0: dims = [.steps, .batch, .fixed(Int64(layers[k].D * layers[k].H))]
            case let .batchFirst(k)? where k >= 0: dims = [.batch, .steps, .fixed(Int64(layers[k].D * layers[k].H))]
            default: break
            }
            if let dims {   // opset 15+: start and end attributes, as Python slicing
                let r = Self.sliceRange(count: dims.count, start: intAttribute(n, "start") ?? 0, end: intAttribute(n, "end") ?? Int64.max)
                set(.dims(Array(dims[r])))
            } else {
                set(.shapeInts)
            }
        case "Cast":
            switch first {
            case .lengths?: set(.lengths)
            case .zeros?: set(.zeros)
            case let .dims(d)?: set(.dims(d))
            case .constant?, .shapeInts?: set(.shapeInts)
            default: throw unsupported(n, "casts a value that is not a shape, a constant, zeros or the lengths")
            }
        case "ConstantOfShape":
            guard allShapeLike(ins) else { throw unsupported(n, "its shape is not computed from shapes and constants") }
            if let v = attribute(n, "value") {
                let c = try ConstTensor.decode(v.t, what: "ConstantOfShape '\(Self.nodeLabel(n))' value")
                guard (c.floats ?? []).allSatisfy({ $0 == 0 }), (c.ints ?? []).allSatisfy({ $0 == 0 }) else {
                    throw unsupported(n, "only zero-filled tensors are supported (initial states are zeros)")
                }
            }
            set(.zeros)
        case "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Reshape", "Expand", "Transpose", "Add", "Sub", "Mul", "Div",
             "Range", "ReduceProd", "Equal", "Where", "Tile":
            if let d = try symbolicDims(n, ins) { set(.dims(d)); return }
            if n.opType == "Expand", case let .constant(c)? = first, let f = c.floats, f.allSatisfy({ $0 == 0 }), allShapeLike(Array(ins.dropFirst())) {
                set(.zeros); return
            }
            if allShapeLike(ins) { set(.shapeInts); return }
            if case .zeros? = first, ["Unsqueeze", "Squeeze", "Concat", "Slice", "Reshape", "Expand", "Transpose", "Tile"].contains(n.opType),
               ins.dropFirst().allSatisfy({ s in if case .zeros? = s { return true }; return allShapeLike([s]) }) {
                set(.zeros); return
            }
            try dataPlumbing(n, ins)
        case "LSTM", "GRU":
            try recurrent(n, ins)
        default:
            throw unsupported(n, "op type \(n.opType) is not supported by LSTMKit's importer")
        }
    }

    /// Python's slice start:end of `count` entries (negative values count from the end; out-of-range values clamp).
    static func sliceRange(count: Int, start: Int64, end: Int64) -> Range<Int> {
        func clamp(_ v: Int64) -> Int {
            let c = Int64(count)
            let w = v < 0 ? Swift.max(v, -c) + c : Swift.min(v, c)
            return Int(w)
        }
        let a = clamp(start), b = clamp(end)
        return a..<Swift.max(a, b)
    }

    /// Shape arithmetic on symbolic shapes (`.dims`): Slice (1-D, step 1), Concat (axis 0, with constants), Mul of two
    /// known single entries, Reshape/Squeeze/Unsqueeze of one entry to one entry. Nil when it does not apply.
    func symbolicDims(_ n: Onnx_NodeProto, _ ins: [Symbol?]) throws -> [SymbolicDim]? {
        func list(_ s: Symbol?) -> [SymbolicDim]? {
            switch s {
            case let .dims(d)?: return d
            case let .constant(c)? where c.dims.count <= 1: return c.ints.map { $0.map { .fixed($0) } }
            default: return nil
            }
        }
        guard ins.contains(where: { if case .dims? = $0 { return true }; return false }) else { return nil }
        switch n.opType {
        case "Slice":
            guard let d = list(ins[0]), ins.count >= 3 else { return nil }
            let starts = try constInts(n.input[1], n, "starts"), ends = try constInts(n.input[2], n, "ends")
            let axes = ins.count > 3 && !n.input[3].isEmpty ? try constInts(n.input[3], n, "axes") : [0]
            let steps = ins.count > 4 && !n.input[4].isEmpty ? try constInts(n.input[4], n, "steps") : [1]
            guard starts.count == 1, ends.count == 1, axes == [0] || axes == [-1], steps == [1] else { return nil }
            return Array(d[Self.sliceRange(count: d.count, start: starts[0], end: ends[0])])
        case "Concat":
            guard intAttribute(n, "axis") == 0 || intAttribute(n, "axis") == -1 else { return nil }
            var out: [SymbolicDim] = []
            for s in ins { guard let d = list(s) else { return nil }; out += d }
            return out
        case "Mul":
            guard ins.count == 2, let a = list(ins[0]), let b = list(ins[1]), a.count == 1, b.count == 1,
                  case let .fixed(x) = a[0], case let .fixed(y) = b[0] else { return nil }
            let (p, overflow) = x.multipliedReportingOverflow(by: y)
            return overflow ? nil : [.fixed(p)]
        case "Reshape", "Squeeze", "Unsqueeze":
            guard let d = list(ins[0]), d.count == 1 else { return nil }
            return d
        default:
            return nil
        }
    }

    /// Transpose, Squeeze, Reshape and Concat on the recurrent stack's values.
    func dataPlumbing(_ n: Onnx_NodeProto, _ ins: [Symbol?]) throws {
        func set(_ s: Symbol) { if let o = n.output.first, !o.isEmpty { symbols[o] = s } }
        let first = ins.first ?? nil
        func D(_ k: Int) -> Int { layers[k].D }
        switch (n.opType, first) {
        case ("Transpose", let s?):
            let perm = intsAttribute(n, "perm") ?? []
            switch (s, perm) {
            case (.input, [1, 0, 2]):
                guard batchFirstInput != false else { throw unsupported(n, "the input is used both time-major and batch-first") }
                batchFirstInput = true; set(.timeMajor(-1))
            case let (.timeMajor(k), [1, 0, 2]) where k >= 0: set(.batchFirst(k))
            case let (.batchFirst(k), [1, 0, 2]): set(.timeMajor(k))
            case let (.y(k), [0, 2, 1, 3]): set(.yTBDH(k))
            case let (.y(k), [2, 0, 1, 3]): set(.yBTDH(k))
            default: throw unsupported(n, "perm \(perm) on this value is not a layout change the importer knows")
            }
        case ("Squeeze", .y(let k)?):
            let axes = n.input.count > 1 ? try constInts(n.input[1], n, "axes") : (intsAttribute(n, "axes") ?? [])
            guard axes == [1], D(k) == 1 else { throw unsupported(n, "only Squeeze(axes [1]) of a one-direction Y is supported") }
            set(.timeMajor(k))
        case ("Reshape", .yTBDH(let k)?), ("Reshape", .yBTDH(let k)?):
            guard n.input.count > 1 else { throw unsupported(n, "has no shape") }
            let timeMajor: Bool
            if case .yTBDH = first! { timeMajor = true } else { timeMajor = false }
            let merged = Int64(D(k) * layers[k].H)
            if case let .dims(d)? = ins[1] {   // a shape computed from the value's own Shape (torch's dynamo exporter)
                guard d == (timeMajor ? [.steps, .batch, .fixed(merged)] : [.batch, .steps, .fixed(merged)]) else {
                    throw unsupported(n, "shape \(d): only merging the directions ([T, B, D*H]) is supported")
                }
            } else {
                let shape = try constInts(n.input[1], n, "shape")
                guard shape == [0, 0, -1] || shape == [0, 0, merged], (intAttribute(n, "allowzero") ?? 0) == 0 else {
                    throw unsupported(n, "shape \(shape): only [0, 0, -1] (merging the directions) is supported")
                }
            }
            set(timeMajor ? .timeMajor(k) : .batchFirst(k))
        case ("Concat", .states(let cell, let r)?):
            guard let axis = intAttribute(n, "axis"), axis == 0 else { throw unsupported(n, "states are concatenated along axis 0 only") }
            var hi = r.upperBound
            for s in ins.dropFirst() {
                guard case let .states(c2, r2)? = s, c2 == cell, r2.lowerBound == hi else {
                    throw unsupported(n, "only the states of consecutive layers, in order, can be concatenated")
                }
                hi = r2.upperBound
            }
            set(.states(cell: cell, r.lowerBound..<hi))
        default:
            throw unsupported(n, "this use of \(n.opType) on the network's values is not supported")
        }
    }

    /// ONNX's W, R, B, P of one LSTM/GRU node (already checked to be [D, G*H, F], [D, G*H, H], [D, 2*G*H], [D, 3H])
    /// as PyTorch's parameters of layer `k` (names with the "_l{k}[_reverse]" suffix): ONNX blocks i,o,f,c → i,f,g,o
    /// and z,r,h → r,z,n; B split into bias_ih (Wb) and bias_hh (Rb); P (i, o, f) into peephole_i/f/o.
    static func pytorchWeights(isLSTM: Bool, layer k: Int, D: Int, H: Int, F: Int, W: [Float], R: [Float], B: [Float]?, P: [Float]?) -> [String: [Float]] {
        let G = isLSTM ? 4 : 3
        let order = isLSTM ? [0, 2, 3, 1] : [1, 0, 2]   // the inverse of ONNXExport's
        var weights: [String: [Float]] = [:]
        for d in 0..<D {
            let s = "_l\(k)" + (d == 1 ? "_reverse" : "")
            let wd = Array(W[(d * G * H * F)..<((d + 1) * G * H * F)]), rd = Array(R[(d * G * H * H)..<((d + 1) * G * H * H)])
            weights["weight_ih" + s] = ONNXExport.reorder(wd, blocks: G, order)
            weights["weight_hh" + s] = ONNXExport.reorder(rd, blocks: G, order)
            if let B {
                let bd = Array(B[(d * 2 * G * H)..<((d + 1) * 2 * G * H)])
                weights["bias_ih" + s] = ONNXExport.reorder(Array(bd[0..<(G * H)]), blocks: G, order)
                weights["bias_hh" + s] = ONNXExport.reorder(Array(bd[(G * H)...]), blocks: G, order)
            }
            if let P {
                let pd = Array(P[(d * 3 * H)..<((d + 1) * 3 * H)])
                weights["peephole_i" + s] = Array(pd[0..<H])
                weights["peephole_o" + s] = Array(pd[H..<(2 * H)])
                weights["peephole_f" + s] = Array(pd[(2 * H)...])
            }
        }
        return weights
    }

    /// An LSTM or GRU node: the next layer of the stack.
    func recurrent(_ n: Onnx_NodeProto, _ ins: [Symbol?]) throws {
        let isLSTM = n.opType == "LSTM"
        let k = layers.count
        let G = isLSTM ? 4 : 3
        // X: the previous layer's time-major output (or the input).
        switch ins.first ?? nil {
        case .input?:
            guard k == 0, batchFirstInput != true else { throw unsupported(n, "the input is used both time-major and batch-first") }
            batchFirstInput = false
        case .timeMajor(let j)? where j == k - 1: break
        default: throw unsupported(n, "X must be the previous layer's output, time-major (layer \(k) of a stack)")
        }
        guard let H64 = intAttribute(n, "hidden_size"), H64 >= 1, H64 <= 1 << 20 else { throw unsupported(n, "hidden_size missing or out of 1...2^20") }
        let H = Int(H64)
        let direction = attribute(n, "direction").map { String(decoding: $0.s, as: UTF8.self) } ?? "forward"
        guard direction == "forward" || direction == "bidirectional" else { throw unsupported(n, "direction \(direction): LSTMKit runs forward or bidirectional") }
        let D = direction == "bidirectional" ? 2 : 1
        if let clip = attribute(n, "clip") { throw unsupported(n, "clip \(clip.f): ONNX clips the gates' pre-activations, LSTMKit has no such option") }
        if (intAttribute(n, "layout") ?? 0) != 0 { throw unsupported(n, "layout 1 (batch-first): only layout 0 is supported") }
        if (intAttribute(n, "input_forget") ?? 0) != 0 { throw unsupported(n, "input_forget 1 is not supported") }
        if !isLSTM, intAttribute(n, "linear_before_reset") != 1 {
            throw unsupported(n, "linear_before_reset 0: LSTMKit's GRU is PyTorch's (linear_before_reset = 1)")
        }
        if let acts = attribute(n, "activations") {
            let names = acts.strings.map { String(decoding: $0, as: UTF8.self).lowercased() }
            let standard = Array(repeating: isLSTM ? ["sigmoid", "tanh", "tanh"] : ["sigmoid", "tanh"], count: D).flatMap { $0 }
            guard names == standard else { throw unsupported(n, "activations \(names): only the default ones are supported") }
        }
        if attribute(n, "activation_alpha") != nil || attribute(n, "activation_beta") != nil {
            throw unsupported(n, "activation_alpha/beta are not supported")
        }
        func weight(_ i: Int, _ what: String, _ dims: [Int]) throws -> [Float]? {
            guard i < n.input.count, !n.input[i].isEmpty else { return nil }
            guard case let .constant(c)? = ins[i], let f = c.floats else { throw unsupported(n, "\(what) ('\(n.input[i])') must be a float initializer or constant") }
            guard c.dims == dims else { throw unsupported(n, "\(what) has dims \(c.dims); expected \(dims)") }
            return f
        }
        guard n.input.count > 2, case let .constant(wc)? = ins[1], wc.dims.count == 3 else { throw unsupported(n, "W must be a constant [D, \(G)H, input]") }
        let F = wc.dims[2]
        guard F >= 1 else { throw unsupported(n, "input size 0") }
        if k > 0, F != layers[k - 1].D * layers[k - 1].H { throw unsupported(n, "input size \(F) is not the previous layer's \(layers[k - 1].D * layers[k - 1].H)") }
        let W = try weight(1, "W", [D, G * H, F])!
        guard let R = try weight(2, "R", [D, G * H, H]) else { throw unsupported(n, "R is missing") }
        let B = try weight(3, "B", [D, 2 * G * H])
        // sequence_lens
        let usesLens: Bool
        if n.input.count > 4, !n.input[4].isEmpty {
            guard case .lengths? = ins[4] else { throw unsupported(n, "sequence_lens must be the graph's lengths input") }
            usesLens = true
        } else { usesLens = false }
        if let u = usesLengths, u != usesLens { throw unsupported(n, "some layers use sequence_lens and others not") }
        usesLengths = usesLens
        for (i, what) in [(5, "initial_h"), (6, "initial_c")] where i < n.input.count && !n.input[i].isEmpty {
            switch ins[i] {
            case .zeros?: break
            case let .constant(c)? where (c.floats ?? [1]).allSatisfy({ $0 == 0 }): break
            default: throw unsupported(n, "\(what) must be zeros (LSTMKit imports the network, not a state)")
            }
        }
        let P = isLSTM ? try weight(7, "P", [D, 3 * H]) : nil
        let weights = GraphReader.pytorchWeights(isLSTM: isLSTM, layer: k, D: D, H: H, F: F, W: W, R: R, B: B, P: P)
        layers.append(RecurrentLayerWeights(node: GraphReader.nodeLabel(n), isLSTM: isLSTM, D: D, H: H, inputSize: F, weights: weights,
                                            bias: B != nil, peephole: P != nil))
        func set(_ s: Symbol, _ i: Int) { if i < n.output.count, !n.output[i].isEmpty { symbols[n.output[i]] = s } }
        set(.y(k), 0)
        set(.states(cell: false, k..<(k + 1)), 1)
        if isLSTM { set(.states(cell: true, k..<(k + 1)), 2) }
    }
}
