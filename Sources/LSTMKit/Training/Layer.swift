/// A batch of values flowing between layers, with the valid length of each sequence when a mask applies
/// (set by `Embedding(maskZero: true)`, consumed by recurrent layers). The batch is the first dimension.
public struct MaskedTensor {
    public var tensor: Tensor
    /// Valid length of each sequence (padding on the right), or nil when every step is valid.
    public var lengths: [Int]?
    public init(_ tensor: Tensor, lengths: [Int]? = nil) {
        self.tensor = tensor
        self.lengths = lengths
    }
}

/// One flat parameter buffer and its gradient buffer (same layout): what an optimizer updates with one kernel.
public struct ParameterBuffer {
    public let parameters: Tensor
    public let gradients: Tensor
    /// `parameters` and `gradients` must have the same count, on the same device (custom layers make their own).
    public init(parameters: Tensor, gradients: Tensor) {
        self.parameters = parameters
        self.gradients = gradients
    }
}

/// The architecture of a layer, as stored in a saved model's JSON (`model.json`).
public struct LayerSpec: Codable, Equatable, Sendable {
    public var type: String
    public var units: Int?
    public var activation: Activation?
    public var useBias: Bool?
    public var inputDim: Int?
    public var outputDim: Int?
    public var maskZero: Bool?
    public var rate: Double?
    public var returnSequences: Bool?
    public var returnState: Bool?
    public var stateful: Bool?
    public var cellClip: Double?
    public var projSize: Int?
    public var peephole: Bool?
    public var layerNorm: Bool?
    public var recurrentDropout: Double?
    public var mergeMode: String?
    public var layer: [LayerSpec]?
    public init(type: String) { self.type = type }
}

/// A layer of a model: Keras-style shapes (batch first), explicit backward.
///
/// Parameters are created by `build` once the input shape is known. `forward` keeps what `backward` needs;
/// `backward` adds the parameter gradients into `parameterBuffers` and returns the input gradient.
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
    /// The layer's configuration, for saving the architecture.
    var spec: LayerSpec { get }
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
