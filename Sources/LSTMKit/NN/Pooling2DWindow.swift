/// The shape checks and forward/backward plumbing of the pools over channels-last frames (`MaxPooling2D`,
/// `AveragePooling2D`, `GlobalAveragePooling2D`). Built for one frame shape `[H, W, C]` and window, it checks each
/// batch, allocates the output and the input gradient, runs the layer's kernel on them and keeps the geometry of
/// the last forward pass for the backward one. Errors name `layer`.
struct Pooling2DWindow {
    /// The layer's class name, for errors.
    let layer: String
    private var device: Device?
    private var inputShape: [Int] = []
    /// The window over one frame; `n`, the batch, is set per forward pass.
    private var frame = PoolGeometry(n: 0, h: 0, w: 0, c: 0, ph: 0, pw: 0, sh: 0, sw: 0, padTop: 0, padLeft: 0, oh: 0, ow: 0)
    private var sampleOutputShape: [Int] = []
    private var geometry: PoolGeometry?, outputShape: [Int] = []

    /// One launch of a pool's kernel: on `backend`, for `geometry`, from `input` into `output`.
    typealias Kernel = (_ backend: Backend & ConvBackend, _ geometry: PoolGeometry, _ input: BufferView, _ output: BufferView) throws -> Void

    init(layer: String) { self.layer = layer }

    /// Keeps a checked build: frames `inputShape` `[H, W, C]` pooled by `frame` into per-sample `outputShape`, which
    /// it returns.
    mutating func build(inputShape: [Int], frame: PoolGeometry, outputShape: [Int], device: Device) -> [Int] {
        self.inputShape = inputShape
        self.frame = frame
        sampleOutputShape = outputShape
        self.device = device
        return outputShape
    }

    /// A `Pooling2DLayer`'s build: checks its pool and strides against frames `inputShape` (`Padding.pool`); returns
    /// `[OH, OW, C]`.
    mutating func build(_ pool: some Pooling2DLayer, inputShape: [Int], device: Device) throws -> [Int] {
        let (outH, outW, padTop, padLeft) = try pool.padding.pool(layer, inputShape: inputShape, poolSize: pool.poolSize, strides: pool.strides)
        let frame = PoolGeometry(n: 0, h: inputShape[0], w: inputShape[1], c: inputShape[2], ph: pool.poolSize.0, pw: pool.poolSize.1,
                                 sh: pool.strides.0, sw: pool.strides.1, padTop: padTop, padLeft: padLeft, oh: outH, ow: outW)
        return build(inputShape: inputShape, frame: frame, outputShape: [outH, outW, inputShape[2]], device: device)
    }

    /// Checks a batch `[B, H, W, C]`, allocates the output and runs `kernel(backend, geometry, x, y)`; the output
    /// keeps the input's lengths.
    mutating func forward(_ input: MaskedTensor, kernel: Kernel) throws -> MaskedTensor {
        let device = try requireBuilt(device, layer)
        let xt = input.tensor
        guard xt.shape.count == 4, Array(xt.shape.dropFirst()) == inputShape, xt.count <= Int(Int32.max) else {
            throw LSTMKitError.shapeMismatch(what: "\(layer) input", expected: "[batch, \(inputShape.map(String.init).joined(separator: ", "))], at most 2^31 - 1 values", got: xt.shape)
        }
        var g = frame
        g.n = xt.shape[0]
        let be = device.conv
        let y = BufferView(try be.allocate(g.outputCount))
        try kernel(be, g, xt.view, y)
        geometry = g
        outputShape = [g.n] + sampleOutputShape
        return MaskedTensor(Tensor(shape: outputShape, view: y, device: device), lengths: input.lengths)
    }

    /// Checks `dy` against the last forward pass's output, allocates dx `[B, H, W, C]` and runs
    /// `kernel(backend, geometry, dy, dx)`.
    func backward(_ dy: Tensor, kernel: Kernel) throws -> Tensor {
        guard let g = geometry, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == outputShape else { throw LSTMKitError.shapeMismatch(what: "\(layer) output gradient", expected: "\(outputShape)", got: dy.shape) }
        let be = device.conv
        let dx = BufferView(try be.allocate(g.inputCount))
        try kernel(be, g, dy.view, dx)
        return Tensor(shape: [g.n, g.h, g.w, g.c], view: dx, device: device)
    }
}
