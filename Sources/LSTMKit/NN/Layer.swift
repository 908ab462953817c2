/// A layer of a model: Keras-style shapes (batch first), explicit backward.
///
/// Parameters are created by `build` once the input shape is known. `forward` keeps what `backward` needs;
/// `backward` adds the parameter gradients into `parameterBuffers` and returns the input gradient.
/// A layer that can be saved in model.json also conforms to `ConfigurableLayer`.
public protocol Layer: ParameterOwner {
    /// Creates the parameters for inputs whose per-sample shape (without the batch) is `inputShape`;
    /// returns the per-sample output shape.
    func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int]
    /// Runs the layer on a batch. `training` enables dropout.
    func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor
    /// Given dLoss/dOutput of the last `forward`, accumulates parameter gradients and returns dLoss/dInput
    /// (nil when the input is not differentiable, e.g. token ids).
    func backward(_ dy: Tensor) throws -> Tensor?
    /// `backward(_:)`; when `needsInputGradient` is false nothing below wants dLoss/dInput (the input is the
    /// model's data), so a layer may skip computing it and return nil. `Sequential` passes false up to its
    /// first layer with parameters. The default runs `backward(_:)`.
    func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor?
    /// The flat parameter buffers, for the optimizer (empty before `build` or without parameters).
    var parameterBuffers: [ParameterBuffer] { get }
    /// Parameters by name, in a stable order (PyTorch's names where a PyTorch module exists).
    var namedParameters: [(name: String, tensor: Tensor)] { get }
}

extension Layer {
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? { try backward(dy) }
}

/// Checks that a layer was built on `device` before use.
func requireBuilt(_ device: Device?, _ layer: String) throws -> Device {
    guard let device else {
        throw LSTMKitError.invalidArgument(name: layer, value: "unbuilt", reason: "call build(inputShape:device:seed:) or use it in a Sequential first")
    }
    return device
}
