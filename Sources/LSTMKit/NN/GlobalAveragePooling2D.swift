/// The mean over height and width of channels-last frames (Keras `GlobalAveragePooling2D`): input `[B, H, W, C]`
/// (per sample `[H, W, C]`), output `[B, C]`. Runs the average-pool kernels with one window of the whole frame.
public final class GlobalAveragePooling2D: ConfigurableLayer {
    private var window = Pooling2DWindow(layer: GlobalAveragePooling2D.kerasClassName)

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
        let (h, w, c) = (inputShape[0], inputShape[1], inputShape[2])
        let frame = PoolGeometry(n: 0, h: h, w: w, c: c, ph: h, pw: w, sh: 1, sw: 1, padTop: 0, padLeft: 0, oh: 1, ow: 1)
        return window.build(inputShape: inputShape, frame: frame, outputShape: [c], device: device)
    }
    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        try window.forward(input) { be, g, x, y in try be.avgPoolForward(g, x: x, y: y) }
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        try window.backward(dy) { be, g, dy, dx in try be.avgPoolBackward(g, dy: dy, dx: dx) }
    }
}
