import Foundation

/// A lookup table from token ids to vectors (Keras `Embedding`, PyTorch `nn.Embedding`).
///
/// Input `[B, T]` token ids (stored as floats, as Keras takes them); output `[B, T, outputDim]`.
/// With `maskZero`, id 0 is padding, on the left (Keras's `pad_sequences` default), the right or both: the
/// next recurrent layer skips it (see `SequenceMask`).
/// Parameter `weight [inputDim, outputDim]`, initialised by `embeddingsInitializer`, Keras's default
/// U(-0.05, 0.05) (PyTorch's `nn.Embedding` draws N(0, 1): pass `.randomNormal(mean: 0, stddev: 1)` for that). 
public final class Embedding: Layer {
    public let inputDim: Int
    public let outputDim: Int
    public let maskZero: Bool
    /// Keras's `embeddings_initializer` (drawn on `[inputDim, outputDim]`).
    public let embeddingsInitializer: Initializer
    private(set) var device: Device?
    private var params: ParameterBuffer?
    private var ids: Tensor?

    public init(inputDim: Int, outputDim: Int, maskZero: Bool = false, embeddingsInitializer: Initializer = .randomUniform()) {
        self.inputDim = inputDim
        self.outputDim = outputDim
        self.maskZero = maskZero
        self.embeddingsInitializer = embeddingsInitializer
    }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard inputDim >= 1, outputDim >= 1 else {
            throw LSTMKitError.invalidArgument(name: "Embedding", value: "\(inputDim)x\(outputDim)", reason: "inputDim and outputDim must be at least 1")
        }
        guard inputShape.count == 1 else {
            throw LSTMKitError.shapeMismatch(what: "Embedding input (per sample)", expected: "[T] token ids", got: inputShape)
        }
        guard case (let n, false) = inputDim.multipliedReportingOverflow(by: outputDim) else {
            throw LSTMKitError.invalidArgument(name: "Embedding", value: "\(inputDim)x\(outputDim)",
                                               reason: "inputDim x outputDim overflows Int")
        }
        try embeddingsInitializer.validate("Embedding.embeddingsInitializer")
        // Both buffers first (a size that cannot be allocated fails before any value is drawn), then the values.
        let gradients = try Tensor.zeros([n], device: device)
        let weights = try Tensor.zeros([n], device: device)
        var generator = SeededGenerator(seed: seed)
        try weights.assign(embeddingsInitializer.values(shape: [inputDim, outputDim], using: &generator))
        self.device = device
        params = ParameterBuffer(parameters: weights, gradients: gradients)
        return inputShape + [outputDim]
    }

    public var parameterBuffers: [ParameterBuffer] { params.map { [$0] } ?? [] }
    public var namedParameters: [(name: String, tensor: Tensor)] {
        guard let p = params?.parameters else { return [] }
        return [("weight", Tensor(shape: [inputDim, outputDim], view: p.view, device: p.device))]
    }

    /// Checks ids (0..<inputDim, whole numbers) and, with `maskZero`, returns each row's mask: the valid steps
    /// are the non-zero ids, which must be contiguous (padding on the left, as Keras's `pad_sequences` does by
    /// default, on the right, or both). `values` is row-major `[rows, T]`.
    func validate(ids values: [Float], rows: Int, steps: Int) throws -> SequenceMask? {
        for (i, v) in values.enumerated() where !(v >= 0 && v < Float(inputDim) && v == v.rounded()) {
            throw LSTMKitError.invalidArgument(name: "token id at sample \(i / max(steps, 1)), step \(i % max(steps, 1))", value: "\(v)",
                                               reason: "ids must be whole numbers in 0..<\(inputDim)")
        }
        guard maskZero else { return nil }
        return try SequenceMask(rows: rows, steps: steps, what: "maskZero padding (id 0)") { values[$0] != 0 }
    }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Embedding")
        let t = x.tensor
        guard t.shape.count == 2 else { throw LSTMKitError.shapeMismatch(what: "Embedding input", expected: "[batch, T] token ids", got: t.shape) }
        let (rows, steps) = (t.shape[0], t.shape[1])
        // Lengths from the model (computed once per dataset); otherwise validate here, reading the ids back.
        var mask = x
        if x.lengths == nil, let m = try validate(ids: t.toArray(), rows: rows, steps: steps) {
            mask.lengths = m.lengths; mask.starts = m.starts
        }
        let out = try device.training.allocate(t.count * outputDim)
        try device.training.embeddingForward(count: t.count, dim: outputDim, ids: t.view, table: params!.parameters.view, out: out)
        ids = t
        var result = MaskedTensor(Tensor(shape: t.shape + [outputDim], view: BufferView(out), device: device))
        if maskZero { result.lengths = mask.lengths; result.starts = mask.starts }
        return result
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let ids, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == ids.shape + [outputDim] else {
            throw LSTMKitError.shapeMismatch(what: "Embedding output gradient", expected: "\(ids.shape + [outputDim])", got: dy.shape)
        }
        try device.training.embeddingBackward(count: ids.count, dim: outputDim, ids: ids.view, dOut: dy.view.buffer,
                                              dTable: params!.gradients.view)
        return nil
    }
}
