/// Average pooling over channels-last frames (Keras `AveragePooling2D`): input `[B, H, W, C]` (per sample `[H, W, C]`),
/// output `[B, OH, OW, C]`, each value the mean of its window. With `.same` padding the mean is over the pixels
/// inside the frame (Keras; PyTorch `nn.AvgPool2d(count_include_pad=False)`). `strides` defaults to `poolSize`.
public final class AveragePooling2D: ConfigurableLayer {
    public let poolSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    private(set) var device: Device?
    private var inputShape: [Int] = []
    private var outH = 0, outW = 0, padTop = 0, padLeft = 0
    private var geometry: PoolGeometry?, outputShape: [Int] = []

    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
    }
    /// A square pool (`pool_size=2`).
    public convenience init(poolSize: Int, strides: Int? = nil, padding: Padding = .valid) {
        self.init(poolSize: (poolSize, poolSize), strides: strides.map { ($0, $0) }, padding: padding)
    }

    /// Keras's AveragePooling2D config keys.
    public struct Config: Codable, Equatable, Sendable {
        public var poolSize: [Int]
        public var strides: [Int]
        public var padding: Padding
        enum CodingKeys: String, CodingKey { case poolSize = "pool_size", strides, padding }
        public init(poolSize: [Int], strides: [Int], padding: Padding) { self.poolSize = poolSize; self.strides = strides; self.padding = padding }
    }
    public static var kerasClassName: String { "AveragePooling2D" }
    public var config: Config { Config(poolSize: [poolSize.0, poolSize.1], strides: [strides.0, strides.1], padding: padding) }
    public convenience init(config c: Config) throws {
        for (name, v) in [("pool_size", c.poolSize), ("strides", c.strides)] where v.count != 2 {
            throw LSTMKitError.invalidArgument(name: "AveragePooling2D.\(name)", value: "\(v)", reason: "must have 2 values (height, width)")
        }
        self.init(poolSize: (c.poolSize[0], c.poolSize[1]), strides: (c.strides[0], c.strides[1]), padding: c.padding)
    }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        (outH, outW, padTop, padLeft) = try padding.pool("AveragePooling2D", inputShape: inputShape, poolSize: poolSize, strides: strides)
        self.inputShape = inputShape
        self.device = device
        return [outH, outW, inputShape[2]]
    }
    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "AveragePooling2D")
        let xt = input.tensor
        guard xt.shape.count == 4, Array(xt.shape.dropFirst()) == inputShape, xt.count <= Int(Int32.max) else {
            throw LSTMKitError.shapeMismatch(what: "AveragePooling2D input", expected: "[batch, \(inputShape.map(String.init).joined(separator: ", "))], at most 2^31 - 1 values", got: xt.shape)
        }
        let g = PoolGeometry(n: xt.shape[0], h: inputShape[0], w: inputShape[1], c: inputShape[2], ph: poolSize.0, pw: poolSize.1,
                             sh: strides.0, sw: strides.1, padTop: padTop, padLeft: padLeft, oh: outH, ow: outW)
        let be = device.conv
        let y = BufferView(try be.allocate(g.outputCount))
        try be.avgPoolForward(g, x: xt.view, y: y)
        geometry = g
        outputShape = [g.n, outH, outW, g.c]
        return MaskedTensor(Tensor(shape: outputShape, view: y, device: device), lengths: input.lengths)
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let g = geometry, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == outputShape else { throw LSTMKitError.shapeMismatch(what: "AveragePooling2D output gradient", expected: "\(outputShape)", got: dy.shape) }
        let be = device.conv
        let dx = BufferView(try be.allocate(g.inputCount))
        try be.avgPoolBackward(g, dy: dy.view, dx: dx)
        return Tensor(shape: [g.n, g.h, g.w, g.c], view: dx, device: device)
    }
}
