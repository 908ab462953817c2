/// Applies a layer at every time step of a `[B, T, ...]` input (Keras `TimeDistributed`): the time axis is folded
/// into the batch, so the inner layer sees `[B*T, ...]` (a view, no copy) and the output is `[B, T, ...]`.
///
///     TimeDistributed(Conv2D(filters: 32, kernelSize: 3, activation: .relu))   // [B, T, H, W, C] -> [B, T, OH, OW, 32]
///     TimeDistributed(Dense(units: 5))                                         // [B, T, F] -> [B, T, 5]
///
/// The sequence lengths of a masked input pass through unchanged; frames past a sequence's length are computed
/// like the others and ignored by the recurrent layer after. A `Dense` inner layer runs on `[B, T, F]` directly
/// (it already works on the last dimension), so a softmax output keeps its fused loss.
public final class TimeDistributed: Layer {
    public let inner: Layer
    private var innerInputShape: [Int] = []
    private var innerOutputShape: [Int] = []
    private var steps = 0, batch = 0

    public init(_ inner: Layer) { self.inner = inner }
    private var dense: Dense? { inner as? Dense }
    private var innerName: String { String(describing: type(of: inner)) }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        if dense != nil {
            guard inputShape.count == 2 else {
                throw LSTMKitError.shapeMismatch(what: "TimeDistributed(Dense) input (per sample)", expected: "[T, features]", got: inputShape)
            }
            return try inner.build(inputShape: inputShape, device: device, seed: seed)
        }
        guard inputShape.count >= 2, inputShape[0] >= 1 else {
            throw LSTMKitError.shapeMismatch(what: "TimeDistributed(\(innerName)) input (per sample)", expected: "[T >= 1, ...] (a frame [H, W, C] for Conv2D)", got: inputShape)
        }
        innerInputShape = Array(inputShape.dropFirst())
        // The inner layer checks its own per-step shape (Conv2D and the pools: a frame [H, W, C], naming the shape).
        innerOutputShape = try inner.build(inputShape: innerInputShape, device: device, seed: seed)
        steps = inputShape[0]
        return [steps] + innerOutputShape
    }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        if dense != nil { return try inner.forward(x, training: training) }
        let t = x.tensor
        guard t.shape.count == innerInputShape.count + 2, Array(t.shape.dropFirst(2)) == innerInputShape, t.shape[1] >= 1 else {
            throw LSTMKitError.shapeMismatch(what: "TimeDistributed(\(innerName)) input",
                                             expected: "[batch, T, \(innerInputShape.map(String.init).joined(separator: ", "))]", got: t.shape)
        }
        batch = t.shape[0]; steps = t.shape[1]
        let folded = Tensor(shape: [batch * steps] + innerInputShape, view: t.view, device: t.device)
        let y = try inner.forward(MaskedTensor(folded), training: training).tensor
        var result = MaskedTensor(Tensor(shape: [batch, steps] + y.shape.dropFirst(), view: y.view, device: y.device), lengths: x.lengths)
        result.starts = x.starts   // the mask (lengths and starts) passes through, as Keras's TimeDistributed
        return result
    }

    public func backward(_ dy: Tensor) throws -> Tensor? { try backward(dy, needsInputGradient: true) }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        if dense != nil { return try inner.backward(dy, needsInputGradient: needsInputGradient) }
        guard dy.shape.count >= 2, dy.shape[0] == batch, dy.shape[1] == steps else {
            throw LSTMKitError.shapeMismatch(what: "TimeDistributed output gradient", expected: "[\(batch), \(steps), ...]", got: dy.shape)
        }
        let folded = Tensor(shape: [batch * steps] + dy.shape.dropFirst(2), view: dy.view, device: dy.device)
        guard let dx = try inner.backward(folded, needsInputGradient: needsInputGradient) else { return nil }
        return Tensor(shape: [batch, steps] + dx.shape.dropFirst(), view: dx.view, device: dx.device)
    }
    public var parameterBuffers: [ParameterBuffer] { inner.parameterBuffers }
    public var namedParameters: [(name: String, tensor: Tensor)] { inner.namedParameters }
}
