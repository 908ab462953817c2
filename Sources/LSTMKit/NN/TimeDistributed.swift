/// Applies a `Dense` layer at every time step of a `[B, T, F]` input (Keras `TimeDistributed(Dense(...))`).
/// `Dense` already works on the last dimension; this wrapper exists so Keras models read the same.
public final class TimeDistributed: Layer {
    public let inner: Dense
    public init(_ inner: Dense) { self.inner = inner }
    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard inputShape.count == 2 else {
            throw LSTMKitError.shapeMismatch(what: "TimeDistributed input (per sample)", expected: "[T, features]", got: inputShape)
        }
        return try inner.build(inputShape: inputShape, device: device, seed: seed)
    }
    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { try inner.forward(x, training: training) }
    public func backward(_ dy: Tensor) throws -> Tensor? { try inner.backward(dy) }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        try inner.backward(dy, needsInputGradient: needsInputGradient)
    }
    public var parameterBuffers: [ParameterBuffer] { inner.parameterBuffers }
    public var namedParameters: [(name: String, tensor: Tensor)] { inner.namedParameters }
}
