/// Flattens every sample to one vector (Keras `Flatten`): `[B, d1, d2, ...]` -> `[B, d1*d2*...]`, row-major
/// (channels-last frames `[B, H, W, C]` flatten in (h, w, c) order, as Keras). A view: no copy, no kernel.
public final class Flatten: ConfigurableLayer {
    private(set) var device: Device?
    private var inputShape: [Int] = []
    private var size = 0

    public init() {}

    /// Keras's Flatten config (channels_last; no keys of its own).
    public struct Config: Codable, Equatable, Sendable { public init() {} }
    public static var kerasClassName: String { "Flatten" }
    public var config: Config { Config() }
    public convenience init(config: Config) throws { self.init() }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard !inputShape.isEmpty, let n = Memory.product(inputShape) else {
            throw LSTMKitError.shapeMismatch(what: "Flatten input (per sample)", expected: "at least one dimension, a value count that fits in Int", got: inputShape)
        }
        self.inputShape = inputShape
        size = n
        self.device = device
        return [n]
    }
    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Flatten")
        let xt = input.tensor
        guard xt.shape.count == inputShape.count + 1, Array(xt.shape.dropFirst()) == inputShape else {
            throw LSTMKitError.shapeMismatch(what: "Flatten input", expected: "[batch, \(inputShape.map(String.init).joined(separator: ", "))]", got: xt.shape)
        }
        return MaskedTensor(Tensor(shape: [xt.shape[0], size], view: xt.view, device: device), lengths: input.lengths)
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape.count == 2, dy.shape[1] == size else {
            throw LSTMKitError.shapeMismatch(what: "Flatten output gradient", expected: "[batch, \(size)]", got: dy.shape)
        }
        return Tensor(shape: [dy.shape[0]] + inputShape, view: dy.view, device: device)
    }
}
