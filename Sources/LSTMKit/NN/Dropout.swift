import Foundation

/// Inverted dropout (Keras `Dropout`): in training, each value is zeroed with probability `rate` and the rest
/// scaled by 1/(1-rate); at inference it is the identity. The mask is seeded and the same on both devices.
public final class Dropout: Layer {
    public let rate: Double
    private var device: Device?
    private var generator = SeededGenerator(seed: 0)
    private var lastSeed: UInt32?
    private var lastShape: [Int] = []

    public init(_ rate: Double) { self.rate = rate }
    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard rate >= 0, rate < 1 else { throw LSTMKitError.invalidArgument(name: "Dropout.rate", value: "\(rate)", reason: "must be in [0, 1)") }
        self.device = device
        generator = SeededGenerator(seed: seed)
        return inputShape
    }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Dropout")
        lastShape = x.tensor.shape
        guard training, rate > 0 else { lastSeed = nil; return x }
        let seed = UInt32(truncatingIfNeeded: generator.next())
        let out = try device.training.allocate(x.tensor.count)
        try device.training.dropout(count: x.tensor.count, p: rate, seed: seed, x: x.tensor.view, y: BufferView(out))
        lastSeed = seed
        var result = x   // the mask (lengths and starts) passes through
        result.tensor = Tensor(shape: x.tensor.shape, view: BufferView(out), device: device)
        return result
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let device else { throw LSTMKitError.noForwardPass }
        guard let seed = lastSeed else { return dy }
        let out = try device.training.allocate(dy.count)
        try device.training.dropout(count: dy.count, p: rate, seed: seed, x: dy.view, y: BufferView(out))
        return Tensor(shape: dy.shape, view: BufferView(out), device: device)
    }
}
