import Foundation

/// A lookup table from token ids to vectors (Keras `Embedding`, PyTorch `nn.Embedding`).
///
/// Input `[B, T]` token ids (stored as floats, as Keras takes them); output `[B, T, outputDim]`.
/// Parameter `weight [inputDim, outputDim]`, initialised N(0, 1) as PyTorch. With `maskZero`, id 0 is padding:
/// each sequence's length is the count of its ids before the first 0, and the ids after it must all be 0
/// (padding on the right); the lengths go to the next recurrent layer.
public final class Embedding: Layer {
    public let inputDim: Int
    public let outputDim: Int
    public let maskZero: Bool
    private(set) var device: Device?
    private var params: ParameterBuffer?
    private var ids: Tensor?

    public init(inputDim: Int, outputDim: Int, maskZero: Bool = false) {
        self.inputDim = inputDim
        self.outputDim = outputDim
        self.maskZero = maskZero
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
        // Both buffers first (a size that cannot be allocated fails before any value is drawn), then the values.
        let gradients = try Tensor.zeros([n], device: device)
        var generator = SeededGenerator(seed: seed)
        var spare: Double? = nil
        let weights = try Tensor.streaming(shape: [n], device: device) {  // Box-Muller, in pairs
            if let s = spare { spare = nil; return s }
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator), u2 = Double.random(in: 0..<1, using: &generator)
            let r = (-2 * Foundation.log(u1)).squareRoot()
            spare = r * Foundation.sin(2 * .pi * u2)
            return r * Foundation.cos(2 * .pi * u2)
        }
        self.device = device
        params = ParameterBuffer(parameters: weights, gradients: gradients)
        return inputShape + [outputDim]
    }

    public var parameterBuffers: [ParameterBuffer] { params.map { [$0] } ?? [] }
    public var namedParameters: [(name: String, tensor: Tensor)] {
        guard let p = params?.parameters else { return [] }
        return [("weight", Tensor(shape: [inputDim, outputDim], view: p.view, device: p.device))]
    }

    /// Checks ids (0..<inputDim, whole numbers) and, with `maskZero`, returns each row's length.
    /// `values` is row-major `[rows, T]`.
    func validate(ids values: [Float], rows: Int, steps: Int) throws -> [Int]? {
        for (i, v) in values.enumerated() where !(v >= 0 && v < Float(inputDim) && v == v.rounded()) {
            throw LSTMKitError.invalidArgument(name: "token id at sample \(i / max(steps, 1)), step \(i % max(steps, 1))", value: "\(v)",
                                               reason: "ids must be whole numbers in 0..<\(inputDim)")
        }
        guard maskZero else { return nil }
        return try (0..<rows).map { r in
            let row = values[(r * steps)..<((r + 1) * steps)]
            let length = row.firstIndex(of: 0).map { $0 - r * steps } ?? steps
            if let bad = row.dropFirst(length).firstIndex(where: { $0 != 0 }) {
                throw LSTMKitError.invalidArgument(name: "maskZero padding of sample \(r)", value: "id \(row[bad]) at step \(bad - r * steps)",
                                                   reason: "padding (id 0) must be on the right: no ids may follow it")
            }
            if length == 0 {
                throw LSTMKitError.invalidLength(index: r, length: 0, maxLength: steps)
            }
            return length
        }
    }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Embedding")
        let t = x.tensor
        guard t.shape.count == 2 else { throw LSTMKitError.shapeMismatch(what: "Embedding input", expected: "[batch, T] token ids", got: t.shape) }
        let (rows, steps) = (t.shape[0], t.shape[1])
        // Lengths from the model (computed once per dataset); otherwise validate here, reading the ids back.
        let lengths = try x.lengths ?? validate(ids: t.toArray(), rows: rows, steps: steps)
        let out = try device.training.allocate(t.count * outputDim)
        try device.training.embeddingForward(count: t.count, dim: outputDim, ids: t.view, table: params!.parameters.view, out: out)
        ids = t
        return MaskedTensor(Tensor(shape: t.shape + [outputDim], view: BufferView(out), device: device), lengths: maskZero ? lengths : nil)
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
