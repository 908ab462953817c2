/// A 2-D convolution over channels-last frames (Keras `Conv2D`): `y = activation(conv(x, W) + b)`.
///
/// Shapes: input `[B, H, W, C]` (per sample `[H, W, C]`; inside `TimeDistributed`, `[B, T, H, W, C]`), output
/// `[B, OH, OW, filters]` with OH, OW from `padding` (see `Padding`).
///
/// Parameters use PyTorch's `nn.Conv2d` names and layout: `weight [filters, C, KH, KW]`, `bias [filters]`, so
/// `loadStateDict`/`namedParameters` exchange them with PyTorch unchanged (only the activations are permuted:
/// PyTorch is channels-first, `x.permute(0, 3, 1, 2)`). A Keras kernel `[KH, KW, C, filters]` converts with
/// `weight = kernel.transpose(3, 2, 0, 1)`. Initialised as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C*KH*KW.
///
/// Runs as im2col + the device's gemm, with the bias and activation in one epilogue kernel (Kernels/conv.cl).
/// `activation` may be linear, relu, tanh or sigmoid. Keras rejects strides > 1 together with dilation > 1; so does this.
public final class Conv2D: ConfigurableLayer {
    public let filters: Int
    public let kernelSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: Activation
    public let useBias: Bool
    private(set) var device: Device?
    private var inputShape: [Int] = []
    private var channels = 0, outH = 0, outW = 0, padTop = 0, padLeft = 0
    private var params: ParameterBuffer?
    private var geometry: ConvGeometry?, cols: BufferView?, x: Tensor?, y: Tensor?

    public init(filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                dilation: (Int, Int) = (1, 1), activation: Activation = .linear, useBias: Bool = true) {
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
    }
    /// A square kernel (`kernel_size=3`).
    public convenience init(filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
                            activation: Activation = .linear, useBias: Bool = true) {
        self.init(filters: filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding,
                  dilation: (dilation, dilation), activation: activation, useBias: useBias)
    }

    // MARK: Config

    /// Keras's Conv2D config keys (channels_last only).
    public struct Config: Codable, Equatable, Sendable {
        public var filters: Int
        public var kernelSize: [Int]
        public var strides: [Int]
        public var padding: Padding
        public var dilationRate: [Int]
        public var activation: Activation
        public var useBias: Bool
        enum CodingKeys: String, CodingKey {
            case filters, kernelSize = "kernel_size", strides, padding, dilationRate = "dilation_rate", activation, useBias = "use_bias"
        }
        public init(filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid, dilationRate: [Int] = [1, 1],
                    activation: Activation = .linear, useBias: Bool = true) {
            self.filters = filters; self.kernelSize = kernelSize; self.strides = strides; self.padding = padding
            self.dilationRate = dilationRate; self.activation = activation; self.useBias = useBias
        }
    }
    public static var kerasClassName: String { "Conv2D" }
    public var config: Config {
        Config(filters: filters, kernelSize: [kernelSize.0, kernelSize.1], strides: [strides.0, strides.1], padding: padding,
               dilationRate: [dilation.0, dilation.1], activation: activation, useBias: useBias)
    }
    public convenience init(config c: Config) throws {
        for (name, v) in [("kernel_size", c.kernelSize), ("strides", c.strides), ("dilation_rate", c.dilationRate)] where v.count != 2 {
            throw LSTMKitError.invalidArgument(name: "Conv2D.\(name)", value: "\(v)", reason: "must have 2 values (height, width)")
        }
        self.init(filters: c.filters, kernelSize: (c.kernelSize[0], c.kernelSize[1]), strides: (c.strides[0], c.strides[1]),
                  padding: c.padding, dilation: (c.dilationRate[0], c.dilationRate[1]), activation: c.activation, useBias: c.useBias)
    }

    // MARK: Keras weights

    /// A Keras Conv2D kernel `[KH, KW, C, O]` (row-major values) in PyTorch's and LSTMKit's layout `[O, C, KH, KW]`
    /// (`kernel.transpose(3, 2, 0, 1)`), ready for the `weight` of `namedParameters` / a state dict.
    public static func pytorchWeight(fromKeras kernel: [Float], kernelShape: [Int]) throws -> [Float] {
        guard kernelShape.count == 4, let n = Memory.product(kernelShape), n == kernel.count else {
            throw LSTMKitError.shapeMismatch(what: "Keras Conv2D kernel [KH, KW, C, O] (\(kernel.count) values)", expected: "4 dimensions whose product is the value count", got: kernelShape)
        }
        let (KH, KW, C, O) = (kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3])
        var out = [Float](repeating: 0, count: n)
        for h in 0..<KH { for k in 0..<KW { for c in 0..<C { for o in 0..<O {
            out[((o * C + c) * KH + h) * KW + k] = kernel[((h * KW + k) * C + c) * O + o]
        } } } }
        return out
    }

    /// PyTorch's / LSTMKit's `weight [O, C, KH, KW]` as a Keras kernel `[KH, KW, C, O]` (`weight.transpose(2, 3, 1, 0)`).
    public static func kerasKernel(fromPyTorch weight: [Float], weightShape: [Int]) throws -> [Float] {
        guard weightShape.count == 4, let n = Memory.product(weightShape), n == weight.count else {
            throw LSTMKitError.shapeMismatch(what: "Conv2D weight [O, C, KH, KW] (\(weight.count) values)", expected: "4 dimensions whose product is the value count", got: weightShape)
        }
        let (O, C, KH, KW) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
        var out = [Float](repeating: 0, count: n)
        for o in 0..<O { for c in 0..<C { for h in 0..<KH { for k in 0..<KW {
            out[((h * KW + k) * C + c) * O + o] = weight[((o * C + c) * KH + h) * KW + k]
        } } } }
        return out
    }

    // MARK: Layer

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard filters >= 1 else { throw LSTMKitError.invalidArgument(name: "Conv2D.filters", value: "\(filters)", reason: "must be at least 1") }
        for (name, v) in [("kernelSize", kernelSize), ("strides", strides), ("dilation", dilation)] where v.0 < 1 || v.1 < 1 {
            throw LSTMKitError.invalidArgument(name: "Conv2D.\(name)", value: "(\(v.0), \(v.1))", reason: "must be at least 1 on both axes")
        }
        if (strides.0 > 1 || strides.1 > 1) && (dilation.0 > 1 || dilation.1 > 1) {
            throw LSTMKitError.invalidArgument(name: "Conv2D.strides", value: "(\(strides.0), \(strides.1))",
                                               reason: "strides > 1 with dilation (\(dilation.0), \(dilation.1)) > 1 is not supported (as Keras)")
        }
        guard activation != .softmax else {
            throw LSTMKitError.invalidArgument(name: "Conv2D.activation", value: "softmax", reason: "use linear, relu, tanh or sigmoid")
        }
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw LSTMKitError.shapeMismatch(what: "Conv2D input (per sample)", expected: "[height, width, channels], each >= 1", got: inputShape)
        }
        let (h, w, c) = (inputShape[0], inputShape[1], inputShape[2])
        guard let rows = padding.resolve(input: h, kernel: kernelSize.0, stride: strides.0, dilation: dilation.0),
              let columns = padding.resolve(input: w, kernel: kernelSize.1, stride: strides.1, dilation: dilation.1) else {
            throw LSTMKitError.shapeMismatch(what: "Conv2D input (per sample): kernel (\(kernelSize.0), \(kernelSize.1)) dilated by (\(dilation.0), \(dilation.1)) is larger than the \(padding) input",
                                             expected: "[>= \((kernelSize.0 - 1) * dilation.0 + 1), >= \((kernelSize.1 - 1) * dilation.1 + 1), channels]", got: inputShape)
        }
        guard let weights = Memory.product([filters, c, kernelSize.0, kernelSize.1]), weights <= Int(Int32.max) - filters,
              Memory.product([rows.output, columns.output, max(filters, c * kernelSize.0 * kernelSize.1)]) != nil else {
            throw LSTMKitError.invalidArgument(name: "Conv2D filters x input", value: "\(filters) x \(inputShape)",
                                               reason: "the parameter or output count overflows")
        }
        let n = weights + (useBias ? filters : 0)
        let gradients = try Tensor.zeros([n], device: device)
        var generator = SeededGenerator(seed: seed)
        let k = 1 / Double(c * kernelSize.0 * kernelSize.1).squareRoot()
        let p = try Tensor.streaming(shape: [n], device: device) { Double.random(in: -k..<k, using: &generator) }
        self.inputShape = inputShape
        channels = c
        (outH, padTop) = rows
        (outW, padLeft) = columns
        self.device = device
        params = ParameterBuffer(parameters: p, gradients: gradients)
        return [outH, outW, filters]
    }

    public var parameterBuffers: [ParameterBuffer] { params.map { [$0] } ?? [] }
    private var weightCount: Int { filters * channels * kernelSize.0 * kernelSize.1 }
    /// PyTorch's Conv2d names and layout: `weight [filters, C, KH, KW]`, `bias [filters]`.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        guard let p = params?.parameters else { return [] }
        var list = [("weight", Tensor(shape: [filters, channels, kernelSize.0, kernelSize.1], view: p.view, device: p.device))]
        if useBias { list.append(("bias", Tensor(shape: [filters], view: p.view.advanced(by: weightCount), device: p.device))) }
        return list
    }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Conv2D")
        let xt = input.tensor
        guard xt.shape.count == 4, Array(xt.shape.dropFirst()) == inputShape else {
            throw LSTMKitError.shapeMismatch(what: "Conv2D input", expected: "[batch, \(inputShape.map(String.init).joined(separator: ", "))]", got: xt.shape)
        }
        let g = ConvGeometry(n: xt.shape[0], h: inputShape[0], w: inputShape[1], c: channels, kh: kernelSize.0, kw: kernelSize.1,
                             sh: strides.0, sw: strides.1, padTop: padTop, padLeft: padLeft, dh: dilation.0, dw: dilation.1, oh: outH, ow: outW)
        guard let patches = Memory.product([g.rows, max(g.patch, filters)]), patches <= Int(Int32.max),
              xt.count <= Int(Int32.max) else {
            throw LSTMKitError.invalidArgument(name: "Conv2D batch", value: "\(xt.shape)", reason: "more than 2^31 - 1 values in one launch: use smaller batches")
        }
        let be = device.conv
        let colsView: BufferView
        if g.isPointwise { colsView = xt.view } else {
            colsView = BufferView(try be.allocate(g.rows * g.patch))
            try be.im2col(g, x: xt.view, cols: colsView)
        }
        let yb = BufferView(try be.allocate(g.rows * filters))
        let p = params!.parameters.view
        try be.gemm(transA: false, transB: true, m: g.rows, n: filters, k: g.patch, alpha: 1, a: colsView, lda: g.patch,
                    b: p, ldb: g.patch, beta: 0, c: yb, ldc: filters)
        try be.convBiasAct(activation, rows: g.rows, cols: filters, bias: useBias ? p.advanced(by: weightCount) : nil, y: yb)
        let yt = Tensor(shape: [g.n, outH, outW, filters], view: yb, device: device)
        geometry = g; cols = colsView; x = xt; y = yt
        return MaskedTensor(yt, lengths: input.lengths)
    }

    public func backward(_ dy: Tensor) throws -> Tensor? { try backward(dy, needsInputGradient: true) }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        guard let g = geometry, let cols, let x, let y, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == y.shape else { throw LSTMKitError.shapeMismatch(what: "Conv2D output gradient", expected: "\(y.shape)", got: dy.shape) }
        let be = device.conv
        var dz = dy.view
        if activation != .linear {
            dz = BufferView(try be.allocate(y.count))
            try be.activationBackward(activation, count: y.count, y: y.view, dy: dy.view, dx: dz)
        }
        let grad = params!.gradients.view
        try be.gemm(transA: true, transB: false, m: filters, n: g.patch, k: g.rows, alpha: 1, a: dz, lda: filters,
                    b: cols, ldb: g.patch, beta: 1, c: grad, ldc: g.patch)
        if useBias { try be.columnSum(m: g.rows, n: filters, x: dz, ld: filters, beta: 1, out: grad.advanced(by: weightCount)) }
        guard needsInputGradient else { return nil }
        let dx = BufferView(try be.allocate(x.count))
        let dcols = g.isPointwise ? dx : BufferView(try be.allocate(g.rows * g.patch))
        try be.gemm(transA: false, transB: false, m: g.rows, n: g.patch, k: filters, alpha: 1, a: dz, lda: filters,
                    b: params!.parameters.view, ldb: g.patch, beta: 0, c: dcols, ldc: g.patch)
        if !g.isPointwise { try be.col2im(g, dcols: dcols, dx: dx) }
        return Tensor(shape: x.shape, view: dx, device: device)
    }
}
