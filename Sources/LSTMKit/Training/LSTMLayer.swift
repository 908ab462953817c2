/// Keras-style LSTM layer over the `LSTM` core: input `[B, T, F]` (batch first), output `[B, T, units]` with
/// `returnSequences`, else the last valid step's hidden state `[B, units]`.
///
/// - `returnState`: after each forward, `lastState` holds the final `(h, c)`, each `[B, units]`.
/// - `stateful`: the final state of one batch is the initial state of the next (truncated BPTT: the gradient
///   stops at the batch boundary); `resetStates()` clears it. The batch size must then stay the same.
/// - Sequence lengths from `Embedding(maskZero:)` are honoured (PyTorch's packed-sequence semantics).
/// Parameters carry PyTorch's names (`weight_ih_l0`, ...), so an `nn.LSTM` state dict loads into `core`.
public final class LSTMLayer: Layer {
    public let units: Int
    public let returnSequences: Bool
    public let returnState: Bool
    public let stateful: Bool
    /// Set by `Bidirectional`: 0 none, else the merge mode of the two directions.
    let merge: MergeMode?
    public private(set) var core: LSTM?
    /// The final (h, c) of the last forward, each `[B, units]` (`[B, 2*units]` for a concat-merged Bidirectional).
    public private(set) var lastState: (h: Tensor, c: Tensor)?
    private var carried: (h: Tensor, c: Tensor)?
    private var lastOutput: Tensor?   // what merge backward needs (the unmerged output)

    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false) {
        self.units = units
        self.returnSequences = returnSequences
        self.returnState = returnState
        self.stateful = stateful
        merge = nil
    }

    init(bidirectionalOf inner: LSTMLayer, merge: MergeMode) {
        units = inner.units
        returnSequences = inner.returnSequences
        returnState = inner.returnState
        stateful = inner.stateful
        self.merge = merge
    }

    public var spec: LayerSpec {
        var s = LayerSpec(type: "LSTM")
        s.units = units; s.returnSequences = returnSequences; s.returnState = returnState; s.stateful = stateful
        return s
    }

    private var directions: Int { merge == nil ? 1 : 2 }
    private var outputWidth: Int { merge == .concat ? 2 * units : units }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard inputShape.count == 2 else {
            throw LSTMKitError.shapeMismatch(what: "LSTM input (per sample)", expected: "[T, features]", got: inputShape)
        }
        core = try LSTM(inputSize: inputShape[1], hiddenSize: units, batchFirst: true, bidirectional: merge != nil,
                        device: device, seed: seed)
        return returnSequences ? [inputShape[0], outputWidth] : [outputWidth]
    }

    public var parameterBuffers: [ParameterBuffer] {
        core.map { [ParameterBuffer(parameters: $0.flatParameters, gradients: $0.flatGradients)] } ?? []
    }
    public var namedParameters: [(name: String, tensor: Tensor)] {
        guard let core else { return [] }
        return core.parameterNames.map { ($0, core.parameters[$0]!) }
    }

    /// Forgets the carried state of a `stateful` layer.
    public func resetStates() { carried = nil }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        guard let core else { throw LSTMKitError.invalidArgument(name: "LSTM", value: "unbuilt", reason: "call build(inputShape:device:seed:) or use it in a Sequential first") }
        let device = core.device, be = device.training
        let B = x.tensor.shape.first ?? 0
        if let carried, carried.h.shape[1] != B {
            throw LSTMKitError.shapeMismatch(what: "batch of a stateful LSTM", expected: "batch size \(carried.h.shape[1]) (call resetStates() to change it)",
                                             got: x.tensor.shape)
        }
        core.training = training
        let (y, (hn, cn)) = try core.forward(x.tensor, lengths: x.lengths, initialState: stateful ? carried : nil)
        if stateful { carried = (hn, cn) }
        let H = units, D = directions
        // h_n, c_n: [D, B, H] -> [B, D*H]
        func lastStep(_ s: Tensor) throws -> Tensor {
            if D == 1 { return Tensor(shape: [B, H], view: s.view, device: device) }
            let out = try be.allocate(B * 2 * H)
            try be.transpose01(d0: 2, d1: B, features: H, src: s.view, dst: BufferView(out))
            return Tensor(shape: [B, 2 * H], view: BufferView(out), device: device)
        }
        var out = returnSequences ? y : try lastStep(hn)
        lastOutput = out
        var cState = try lastStep(cn)
        if let merge, merge != .concat {
            out = try mergeDirections(out, merge)
            cState = try mergeDirections(cState, merge)
        }
        lastState = (returnSequences ? try mergeDirectionsIfNeeded(try lastStep(hn)) : out, cState)
        return MaskedTensor(out, lengths: returnSequences ? x.lengths : nil)
    }

    private func mergeDirectionsIfNeeded(_ t: Tensor) throws -> Tensor {
        guard let merge, merge != .concat else { return t }
        return try mergeDirections(t, merge)
    }

    private func mergeDirections(_ t: Tensor, _ mode: MergeMode) throws -> Tensor {
        let device = t.device
        let rows = t.count / (2 * units)
        let out = try device.training.allocate(rows * units)
        try device.training.mergeDirections(mode: mode.kernelMode, rows: rows, hidden: units, y: t.view.buffer, out: out)
        return Tensor(shape: Array(t.shape.dropLast()) + [units], view: BufferView(out), device: device)
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let core, let lastOutput else { throw LSTMKitError.noForwardPass }
        let device = core.device, be = device.training
        var d = dy
        if let merge, merge != .concat {
            let rows = lastOutput.count / (2 * units)
            let b = try be.allocate(lastOutput.count)
            try be.mergeDirectionsBackward(mode: merge.kernelMode, rows: rows, hidden: units, y: lastOutput.view.buffer,
                                           dOut: dy.view.buffer, dY: b)
            d = Tensor(shape: lastOutput.shape, view: BufferView(b), device: device)
        }
        guard d.shape == lastOutput.shape else {
            throw LSTMKitError.shapeMismatch(what: "LSTM output gradient", expected: "\(lastOutput.shape)", got: dy.shape)
        }
        if returnSequences { return try core.backward(gradOutput: d).input }
        let B = d.shape[0], H = units, D = directions
        var gradH = d
        if D == 2 {
            let b = try be.allocate(2 * B * H)
            try be.transpose01(d0: B, d1: 2, features: H, src: d.view, dst: BufferView(b))
            gradH = Tensor(shape: [2, B, H], view: BufferView(b), device: device)
        } else {
            gradH = Tensor(shape: [1, B, H], view: d.view, device: device)
        }
        return try core.backward(gradOutput: nil, gradH: gradH).input
    }
}

/// How `Bidirectional` combines the forward and reverse outputs (Keras `merge_mode`).
public enum MergeMode: String, Codable, Sendable {
    case concat, sum, mul, average
    var kernelMode: Int { [.concat: 0, .sum: 1, .mul: 2, .average: 3][self]! }
}

/// Runs an LSTM layer in both directions and merges the outputs (Keras `Bidirectional`). The reverse
/// direction starts at each sequence's last valid step. Parameters: the core's `..._reverse` names.
public final class Bidirectional: Layer {
    public let layer: LSTMLayer
    public let mergeMode: MergeMode
    private let inner: LSTMLayer

    public init(_ layer: LSTMLayer, mergeMode: MergeMode = .concat) {
        self.layer = layer
        self.mergeMode = mergeMode
        inner = LSTMLayer(bidirectionalOf: layer, merge: mergeMode)
    }
    public var spec: LayerSpec {
        var s = LayerSpec(type: "Bidirectional")
        s.mergeMode = mergeMode.rawValue; s.layer = [layer.spec]
        return s
    }
    /// The bidirectional LSTM core (after build).
    public var core: LSTM? { inner.core }
    public var lastState: (h: Tensor, c: Tensor)? { inner.lastState }
    public func resetStates() { inner.resetStates() }
    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] { try inner.build(inputShape: inputShape, device: device, seed: seed) }
    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { try inner.forward(x, training: training) }
    public func backward(_ dy: Tensor) throws -> Tensor? { try inner.backward(dy) }
    public var parameterBuffers: [ParameterBuffer] { inner.parameterBuffers }
    public var namedParameters: [(name: String, tensor: Tensor)] { inner.namedParameters }
}
