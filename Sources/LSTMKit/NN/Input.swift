/// Keras `Input(shape:)` as the first layer of a `Sequential`: the per-sample input shape (without the batch),
/// so the model builds, and `summary()` shows its shapes and parameter counts, before `fit`. It passes its
/// input through unchanged; a batch of another shape is refused naming both shapes.
public final class Input: Layer {
    public let shape: [Int]

    public init(shape: [Int]) { self.shape = shape }


    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else {
            throw LSTMKitError.invalidArgument(name: "Input.shape", value: "\(shape)", reason: "needs at least one dimension, each >= 1")
        }
        guard inputShape == shape else {
            throw LSTMKitError.shapeMismatch(what: "model input (per sample), declared by Input(shape:)", expected: "\(shape)", got: inputShape)
        }
        return shape
    }
    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }
    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { x }
    public func backward(_ dy: Tensor) throws -> Tensor? { dy }
}
