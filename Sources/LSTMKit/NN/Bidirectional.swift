/// How `Bidirectional` combines the forward and reverse outputs (Keras `merge_mode`).
public enum MergeMode: String, Codable, Sendable {
    case concat, sum, mul, average
    var kernelMode: Int { [.concat: 0, .sum: 1, .mul: 2, .average: 3][self]! }
}

/// Runs a recurrent layer (`LSTMLayer`, `GRULayer`) in both directions and merges the outputs (Keras
/// `Bidirectional`). The reverse direction starts at each sequence's last valid step. Parameters: the core's
/// `..._reverse` names.
public final class Bidirectional: Layer {
    public let layer: RecurrentLayer
    public let mergeMode: MergeMode
    private let inner: RecurrentLayer

    public init(_ layer: RecurrentLayer, mergeMode: MergeMode = .concat) {
        self.layer = layer
        self.mergeMode = mergeMode
        inner = layer.bidirectional(mergeMode)
    }
    /// The bidirectional core (after build).
    public var core: RecurrentCore? { inner.core }
    public var lastStates: [Tensor] { inner.lastStates }
    public func resetStates() { inner.resetStates() }
    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] { try inner.build(inputShape: inputShape, device: device, seed: seed) }
    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { try inner.forward(x, training: training) }
    public func backward(_ dy: Tensor) throws -> Tensor? { try inner.backward(dy) }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        try inner.backward(dy, needsInputGradient: needsInputGradient)
    }
    public var parameterBuffers: [ParameterBuffer] { inner.parameterBuffers }
    public var namedParameters: [(name: String, tensor: Tensor)] { inner.namedParameters }
}
