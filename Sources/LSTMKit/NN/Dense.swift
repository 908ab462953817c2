/// A fully connected layer, `y = activation(x . W^T + b)`, on the last dimension (as Keras `Dense`, so a
/// `[B, T, F]` input is applied at every step, as `TimeDistributed(Dense)`).
///
/// Parameters (PyTorch `nn.Linear` names and layout): `weight [units, F]`, `bias [units]`, initialised as
/// Keras does: the kernel (Keras layout `[F, units]`, transposed into `weight`) by `kernelInitializer`
/// (default glorot_uniform), the bias by `biasInitializer` (default zeros). With `softmax` or `sigmoid` the model fuses the activation into the
/// cross-entropy loss (it uses `logits` and `backward(_:preActivation: true)`).
public final class Dense: Layer {
    public let units: Int
    public let activation: Activation
    public let useBias: Bool
    /// Keras's `kernel_initializer` (drawn on Keras's `[F, units]`).
    public let kernelInitializer: Initializer
    /// Keras's `bias_initializer`.
    public let biasInitializer: Initializer
    private(set) var device: Device?
    private var inFeatures = 0
    private var params: ParameterBuffer?
    private var x: Tensor?, z: Tensor?, y: Tensor?

    public init(units: Int, activation: Activation = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard units >= 1 else { throw LSTMKitError.invalidArgument(name: "Dense.units", value: "\(units)", reason: "must be at least 1") }
        guard let f = inputShape.last, f >= 1 else {
            throw LSTMKitError.shapeMismatch(what: "Dense input", expected: "[..., features >= 1]", got: inputShape)
        }
        guard case (let w, false) = units.multipliedReportingOverflow(by: f),
              case (let n, false) = w.addingReportingOverflow(useBias ? units : 0) else {
            throw LSTMKitError.invalidArgument(name: "Dense.units x input features", value: "\(units) x \(f)",
                                               reason: "the parameter count overflows Int")
        }
        try kernelInitializer.validate("Dense.kernelInitializer")
        try biasInitializer.validate("Dense.biasInitializer")
        // Both buffers first (a size that cannot be allocated fails before any value is drawn), then the values.
        let gradients = try Tensor.zeros([n], device: device)
        let p = try Tensor.zeros([n], device: device)
        var generator = SeededGenerator(seed: seed)
        var values = transposed(kernelInitializer.values(shape: [f, units], using: &generator), rows: f, cols: units)
        if useBias { values += biasInitializer.values(shape: [units], using: &generator) }
        try p.assign(values)
        inFeatures = f
        self.device = device
        params = ParameterBuffer(parameters: p, gradients: gradients)
        return Array(inputShape.dropLast()) + [units]
    }

    public var parameterBuffers: [ParameterBuffer] { params.map { [$0] } ?? [] }
    public var namedParameters: [(name: String, tensor: Tensor)] {
        guard let p = params?.parameters else { return [] }
        var list = [("weight", Tensor(shape: [units, inFeatures], view: p.view, device: p.device))]
        if useBias { list.append(("bias", Tensor(shape: [units], view: p.view.advanced(by: units * inFeatures), device: p.device))) }
        return list
    }
    private var weight: BufferView { params!.parameters.view }
    private var bias: BufferView { params!.parameters.view.advanced(by: units * inFeatures) }
    private var gradWeight: BufferView { params!.gradients.view }
    private var gradBias: BufferView { params!.gradients.view.advanced(by: units * inFeatures) }

    /// The pre-activation of the last forward (what fused losses read).
    var logits: Tensor? { z }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Dense")
        let xt = input.tensor
        guard xt.shape.count >= 2, xt.shape.last == inFeatures else {
            throw LSTMKitError.shapeMismatch(what: "Dense input", expected: "[batch, ..., \(inFeatures)]", got: xt.shape)
        }
        let be = device.training
        let rows = xt.count / inFeatures
        let outShape = Array(xt.shape.dropLast()) + [units]
        let zb = try be.allocate(rows * units)
        try be.gemm(transA: false, transB: true, m: rows, n: units, k: inFeatures, alpha: 1, a: xt.view, lda: inFeatures,
                    b: weight, ldb: inFeatures, beta: 0, c: BufferView(zb), ldc: units)
        if useBias { try be.addRowBias(rows: rows, cols: units, bias: bias, y: BufferView(zb)) }
        let zt = Tensor(shape: outShape, view: BufferView(zb), device: device)
        var yt = zt
        if activation != .linear {
            let yb = try be.allocate(rows * units)
            if activation == .softmax { try be.softmaxRows(rows: rows, cols: units, x: BufferView(zb), y: BufferView(yb)) }
            else { try be.activationForward(activation, count: rows * units, x: BufferView(zb), y: BufferView(yb)) }
            yt = Tensor(shape: outShape, view: BufferView(yb), device: device)
        }
        x = xt; z = zt; y = yt
        var out = input
        out.tensor = yt
        return out
    }

    public func backward(_ dy: Tensor) throws -> Tensor? { try backward(dy, preActivation: false) }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        try backward(dy, preActivation: false, needsInputGradient: needsInputGradient)
    }

    /// Backward; with `preActivation` the incoming gradient is already w.r.t. the pre-activation (fused loss).
    /// Without `needsInputGradient` the dX gemm is skipped and nil returned.
    func backward(_ dy: Tensor, preActivation: Bool, needsInputGradient: Bool = true) throws -> Tensor? {
        guard let x, let y, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == y.shape else { throw LSTMKitError.shapeMismatch(what: "Dense output gradient", expected: "\(y.shape)", got: dy.shape) }
        let be = device.training
        let rows = x.count / inFeatures
        var dz = dy.view
        if !preActivation && activation != .linear {
            let b = try be.allocate(rows * units)
            if activation == .softmax { try be.softmaxBackwardRows(rows: rows, cols: units, y: y.view, dy: dy.view, dx: BufferView(b)) }
            else {
                let from = activation.derivativeReadsInput ? z!.view : y.view
                try be.activationBackward(activation, count: rows * units, y: from, dy: dy.view, dx: BufferView(b))
            }
            dz = BufferView(b)
        }
        try be.gemm(transA: true, transB: false, m: units, n: inFeatures, k: rows, alpha: 1, a: dz, lda: units,
                    b: x.view, ldb: inFeatures, beta: 1, c: gradWeight, ldc: inFeatures)
        if useBias { try be.columnSum(m: rows, n: units, x: dz, ld: units, beta: 1, out: gradBias) }
        guard needsInputGradient else { return nil }
        let dx = try be.allocate(rows * inFeatures)
        try be.gemm(transA: false, transB: false, m: rows, n: inFeatures, k: units, alpha: 1, a: dz, lda: units,
                    b: weight, ldb: inFeatures, beta: 0, c: BufferView(dx), ldc: inFeatures)
        return Tensor(shape: x.shape, view: BufferView(dx), device: device)
    }
}
