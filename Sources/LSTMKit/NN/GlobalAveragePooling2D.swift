/// The mean over height and width of channels-last frames (Keras `GlobalAveragePooling2D`): input `[B, H, W, C]`
/// (per sample `[H, W, C]`), output `[B, C]`. Runs the average-pool kernels with one window of the whole frame.
public final class GlobalAveragePooling2D: ConfigurableLayer {
    private(set) var device: Device?
    private var inputShape: [Int] = []
    private var geometry: PoolGeometry?

    public init() {}

    /// Keras's GlobalAveragePooling2D config (channels_last; no keys of its own).
    public struct Config: Codable, Equatable, Sendable { public init() {} }
    public static var kerasClassName: String { "GlobalAveragePooling2D" }
    public var config: Config { Config() }
    public convenience init(config: Config) throws { self.init() }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }), Memory.product(inputShape) != nil else {
            throw LSTMKitError.shapeMismatch(what: "GlobalAveragePooling2D input (per sample)", expected: "[height, width, channels], each >= 1", got: inputShape)
        }
        self.inputShape = inputShape
        self.device = device
        return [inputShape[2]]
    }
    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "GlobalAveragePooling2D")
        let xt = input.tensor
        guard xt.shape.count == 4, Array(xt.shape.dropFirst()) == inputShape, xt.count <= Int(Int32.max) else {
            throw LSTMKitError.shapeMismatch(what: "GlobalAveragePooling2D input", expected: "[batch, \(inputShape.map(String.init).joined(separator: ", "))], at most 2^31 - 1 values", got: xt.shape)
        }
        let (h, w, c) = (inputShape[0], inputShape[1], inputShape[2])
        let g = PoolGeometry(n: xt.shape[0], h: h, w: w, c: c, ph: h, pw: w, sh: 1, sw: 1, padTop: 0, padLeft: 0, oh: 1, ow: 1)
        let be = device.conv
        let y = BufferView(try be.allocate(g.outputCount))
        try be.avgPoolForward(g, x: xt.view, y: y)
        geometry = g
        return MaskedTensor(Tensor(shape: [g.n, c], view: y, device: device), lengths: input.lengths)
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let g = geometry, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == [g.n, g.c] else { throw LSTMKitError.shapeMismatch(what: "GlobalAveragePooling2D output gradient", expected: "\([g.n, g.c])", got: dy.shape) }
        let be = device.conv
        let dx = BufferView(try be.allocate(g.inputCount))
        try be.avgPoolBackward(g, dy: dy.view, dx: dx)
        return Tensor(shape: [g.n, g.h, g.w, g.c], view: dx, device: device)
    }
}
