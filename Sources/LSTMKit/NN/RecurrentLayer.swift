/// Which recurrent network a Keras-style layer runs.
public enum RecurrentCell: String, Codable, Sendable {
    case lstm, gru
}

/// Keras-style recurrent layer over an `LSTM` or `GRU` core: input `[B, T, F]` (batch first), output
/// `[B, T, units]` with `returnSequences`, else the last valid step's hidden state `[B, units]`.
///
/// - `returnState`: after each forward, `lastStates` holds the final states, each `[B, units]` (LSTM: h, c; GRU: h).
/// - `stateful`: the final state of one batch is the initial state of the next (truncated BPTT: the gradient
///   stops at the batch boundary); `resetStates()` clears it. The batch size must then stay the same.
/// - Masks from `Embedding(maskZero:)` or `Masking` are honoured, padding on the left, the right or both: the
///   state skips padded steps (Keras's masking). Left-padded batches are rotated on the device so that each
///   sequence starts at step 0 (one row gather), run with lengths, and rotated back. With `returnSequences`
///   the outputs at padded steps are 0 (PyTorch's packed sequences, and the ONNX export; Keras gives 0 before a
///   sequence's first step but repeats its last output after its last step).
/// - Initialisation is Keras's (`initializers`, see `RecurrentInitializers`), not the core's PyTorch one.
/// - `goBackwards` (Keras `go_backwards`): the input is read last step first (padding included, so right padding
///   becomes left padding) and the output sequence stays in that reversed order.
/// - `dropout` (Keras `dropout`): in training, the input is multiplied by one dropout mask `[B, F]` per batch,
///   the same at every step (Keras's per-sequence input mask).
/// Parameters carry PyTorch's names (`weight_ih_l0`, ...), so an `nn.LSTM`/`nn.GRU` state dict loads into `core`.
/// Use the `LSTMLayer` and `GRULayer` subclasses.
public class RecurrentLayer: Layer {
    public let cell: RecurrentCell
    public let units: Int
    public let returnSequences: Bool
    public let returnState: Bool
    public let stateful: Bool
    /// The LSTM variants (`LSTMLayer`'s arguments; a GRU has none).
    public let options: LSTMOptions
    /// LSTM cell clipping (nil: off).
    public var cellClip: Double? { options.cellClip }
    /// Keras's `activation` (LSTM: g and the cell output; GRU: n) and `recurrent_activation` (LSTM: i, f, o; GRU: r, z).
    public let activation: Activation
    public let recurrentActivation: Activation
    /// Set by `Bidirectional`: how the two directions merge (nil: one direction).
    let merge: MergeMode?
    public private(set) var core: RecurrentCore?
    /// The final states of the last forward, each `[B, units]` (`[B, 2*units]` for a concat-merged Bidirectional).
    public private(set) var lastStates: [Tensor] = []
    private var carried: [Tensor]?
    private var lastOutput: Tensor?   // what merge backward needs (the unmerged output)
    /// Keras's initialisers of the kernels and biases.
    public let initializers: RecurrentInitializers
    /// Keras's `go_backwards`.
    public let goBackwards: Bool
    /// Keras's `dropout` on the inputs, in [0, 1).
    public let dropout: Double
    /// What backward needs from the mask and dropout of the last forward.
    var maskTape: RecurrentMaskTape?
    var dropoutGenerator: SeededGenerator

    init(cell: RecurrentCell, units: Int, returnSequences: Bool, returnState: Bool, stateful: Bool, options: LSTMOptions = LSTMOptions(),
         activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, merge: MergeMode?,
         initializers: RecurrentInitializers = RecurrentInitializers(), goBackwards: Bool = false, dropout: Double = 0) {
        self.initializers = initializers
        self.goBackwards = goBackwards
        self.dropout = dropout
        dropoutGenerator = SeededGenerator(seed: 0)
        self.cell = cell
        self.activation = activation
        self.recurrentActivation = recurrentActivation
        self.options = options
        self.units = units
        self.returnSequences = returnSequences
        self.returnState = returnState
        self.stateful = stateful
        self.merge = merge
    }

    /// The same layer, running in both directions (for `Bidirectional`).
    func bidirectional(_ merge: MergeMode) -> RecurrentLayer {
        RecurrentLayer(cell: cell, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful,
                       options: options, activation: activation, recurrentActivation: recurrentActivation, merge: merge,
                       initializers: initializers, goBackwards: goBackwards, dropout: dropout)
    }

    private var directions: Int { merge == nil ? 1 : 2 }
    /// The width of h per direction: the projection size, if any, else `units`.
    private var hiddenWidth: Int { options.projSize > 0 ? options.projSize : units }
    private var outputWidth: Int { merge == .concat ? 2 * hiddenWidth : hiddenWidth }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard inputShape.count == 2 else {
            let hint = inputShape.count == 1 ? " (add a feature axis: reshape [N, T] to [N, T, 1])" : ""
            throw LSTMKitError.shapeMismatch(what: "\(cell == .lstm ? "LSTM" : "GRU") input (per sample)", expected: "[T, features]" + hint, got: inputShape)
        }
        guard dropout >= 0, dropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "\(cell).dropout", value: "\(dropout)", reason: "must be in [0, 1)")
        }
        switch cell {
        case .lstm: core = try LSTM(inputSize: inputShape[1], hiddenSize: units, batchFirst: true, bidirectional: merge != nil,
                                    projSize: options.projSize, peephole: options.peephole, layerNorm: options.layerNorm,
                                    cellClip: options.cellClip, recurrentDropout: options.recurrentDropout, activation: activation,
                                    recurrentActivation: recurrentActivation, device: device, seed: seed)
        case .gru: core = try GRU(inputSize: inputShape[1], hiddenSize: units, batchFirst: true, bidirectional: merge != nil,
                                  activation: activation, recurrentActivation: recurrentActivation, device: device, seed: seed)
        }
        try initializers.apply(to: core!, cell: cell, units: units, projSize: options.projSize, seed: seed)
        dropoutGenerator = SeededGenerator(seed: seed ^ 0xD80_0017)
        return returnSequences ? [inputShape[0], outputWidth] : [outputWidth]
    }

    public var parameterBuffers: [ParameterBuffer] {
        core?.parameterBuffers ?? []
    }
    public var namedParameters: [(name: String, tensor: Tensor)] {
        guard let core else { return [] }
        return core.parameterNames.map { ($0, core.parameters[$0]!) }
    }

    /// Forgets the carried state of a `stateful` layer.
    public func resetStates() { carried = nil }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        guard let core else { throw LSTMKitError.invalidArgument(name: "\(cell)", value: "unbuilt", reason: "call build(inputShape:device:seed:) or use it in a Sequential first") }
        let device = core.device, be = device.training
        let B = x.tensor.shape.first ?? 0
        if let carried, carried[0].shape[1] != B {
            throw LSTMKitError.shapeMismatch(what: "batch of a stateful LSTM", expected: "batch size \(carried[0].shape[1]) (call resetStates() to change it)",
                                             got: x.tensor.shape)
        }
        core.training = training
        let (input, tape) = try prepareInput(x, training: training)
        maskTape = tape
        var (y, states) = try core.forward(input, lengths: tape.lengths, initialStates: stateful ? carried : nil)
        if returnSequences { y = try restoreOutput(y, tape) }
        if stateful { carried = states }
        let D = directions
        // h_n [D, B, R], c_n [D, B, H] -> [B, D*R], [B, D*H]
        func lastStep(_ s: Tensor) throws -> Tensor {
            let W = s.shape[2]
            if D == 1 { return Tensor(shape: [B, W], view: s.view, device: device) }
            let out = try be.allocate(B * 2 * W)
            try be.transpose01(d0: 2, d1: B, features: W, src: s.view, dst: BufferView(out))
            return Tensor(shape: [B, 2 * W], view: BufferView(out), device: device)
        }
        var out = returnSequences ? y : try lastStep(states[0])
        lastOutput = out
        if let merge, merge != .concat { out = try mergeDirections(out, merge) }
        lastStates = try states.map { try mergeDirectionsIfNeeded(try lastStep($0)) }
        var result = MaskedTensor(out, lengths: returnSequences ? tape.lengths : nil)
        if returnSequences { result.starts = tape.starts }
        return result
    }

    private func mergeDirectionsIfNeeded(_ t: Tensor) throws -> Tensor {
        guard let merge, merge != .concat else { return t }
        return try mergeDirections(t, merge)
    }

    /// [..., 2W] (the two directions side by side) -> [..., W].
    private func mergeDirections(_ t: Tensor, _ mode: MergeMode) throws -> Tensor {
        let device = t.device
        let W = t.shape.last! / 2, rows = t.count / (2 * W)
        let out = try device.training.allocate(rows * W)
        try device.training.mergeDirections(mode: mode.kernelMode, rows: rows, hidden: W, y: t.view.buffer, out: out)
        return Tensor(shape: Array(t.shape.dropLast()) + [W], view: BufferView(out), device: device)
    }

    public func backward(_ dy: Tensor) throws -> Tensor? { try backward(dy, needsInputGradient: true) }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        guard let core, let lastOutput else { throw LSTMKitError.noForwardPass }
        let device = core.device, be = device.training
        var d = dy
        if let merge, merge != .concat {
            let rows = lastOutput.count / (2 * hiddenWidth)
            let b = try be.allocate(lastOutput.count)
            try be.mergeDirectionsBackward(mode: merge.kernelMode, rows: rows, hidden: hiddenWidth, y: lastOutput.view.buffer,
                                           dOut: dy.view.buffer, dY: b)
            d = Tensor(shape: lastOutput.shape, view: BufferView(b), device: device)
        }
        guard d.shape == lastOutput.shape else {
            throw LSTMKitError.shapeMismatch(what: "\(cell) output gradient", expected: "\(lastOutput.shape)", got: dy.shape)
        }
        let tape = maskTape
        if returnSequences {
            let dx = try core.backward(gradOutput: try restoreOutputBackward(d, tape), gradStates: [], inputGradient: needsInputGradient)
            return try prepareInputBackward(dx, tape)
        }
        let B = d.shape[0], H = hiddenWidth, D = directions
        var gradH = d
        if D == 2 {
            let b = try be.allocate(2 * B * H)
            try be.transpose01(d0: B, d1: 2, features: H, src: d.view, dst: BufferView(b))
            gradH = Tensor(shape: [2, B, H], view: BufferView(b), device: device)
        } else {
            gradH = Tensor(shape: [1, B, H], view: d.view, device: device)
        }
        return try prepareInputBackward(try core.backward(gradOutput: nil, gradStates: [gradH], inputGradient: needsInputGradient), tape)
    }
}
