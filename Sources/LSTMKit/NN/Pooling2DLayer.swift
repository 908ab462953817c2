/// A pool over channels-last frames (`MaxPooling2D`, `AveragePooling2D`): input `[B, H, W, C]` (per sample
/// `[H, W, C]`), output `[B, OH, OW, C]`, one value per window and channel. What the pools share is here: the
/// square-pool initialiser, the Keras config (`Pooling2DConfig`) and no parameters; `Pooling2DWindow` holds their
/// shape checks and forward/backward plumbing. Each pool type keeps its name and the kernels it launches.
public protocol Pooling2DLayer: ConfigurableLayer where Config == Pooling2DConfig {
    /// The window (height, width).
    var poolSize: (Int, Int) { get }
    /// The step between windows (height, width).
    var strides: (Int, Int) { get }
    /// `.valid` (windows inside the frame) or `.same` (Keras's padding; padded pixels are not counted).
    var padding: Padding { get }
    /// `strides` nil is `poolSize` (Keras).
    init(poolSize: (Int, Int), strides: (Int, Int)?, padding: Padding)
}

extension Pooling2DLayer {
    /// A square pool (`pool_size=2`).
    public init(poolSize: Int, strides: Int? = nil, padding: Padding = .valid) {
        self.init(poolSize: (poolSize, poolSize), strides: strides.map { ($0, $0) }, padding: padding)
    }

    public var config: Config { Config(poolSize: [poolSize.0, poolSize.1], strides: [strides.0, strides.1], padding: padding) }
    public init(config c: Config) throws {
        for (name, v) in [("pool_size", c.poolSize), ("strides", c.strides)] where v.count != 2 {
            throw LSTMKitError.invalidArgument(name: "\(Self.kerasClassName).\(name)", value: "\(v)", reason: "must have 2 values (height, width)")
        }
        self.init(poolSize: (c.poolSize[0], c.poolSize[1]), strides: (c.strides[0], c.strides[1]), padding: c.padding)
    }

    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }
}
