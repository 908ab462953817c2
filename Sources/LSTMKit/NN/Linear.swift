/// PyTorch's `nn.Linear` for PyTorch-style code: `y = x . weight^T + bias` on the last dimension, built when made
/// (no `Sequential` and no `build` call), with explicit `backward` and `Optimizer.step([linear])`.
///
///     let fc = try Linear(inFeatures: 64, outFeatures: 1, device: device, seed: 1)
///     let y = try fc.forward(h)                    // h [B, 64] (or [B, T, 64]) -> y [B, 1] ([B, T, 1])
///     let dh = try fc.backward(gradOutput: dy)     // adds to fc.gradients["weight"], ["bias"]; returns dL/dh
///
/// Parameters (names and layout as `nn.Linear`'s state dict): `weight [outFeatures, inFeatures]`, `bias [outFeatures]`,
/// both drawn from U(-1/sqrt(inFeatures), 1/sqrt(inFeatures)) (PyTorch's kaiming_uniform_(a=sqrt(5)) for the weight and
/// its fan-in bound for the bias), seeded. They live in one flat buffer, weight first, as `flatParameters`.
public final class Linear: ParameterOwner {
    public let inFeatures: Int
    public let outFeatures: Int
    public let hasBias: Bool
    public let device: Device
    /// Weight then bias, flat; `flatGradients` has the same layout.
    public let flatParameters: Tensor
    public let flatGradients: Tensor
    private var input: Tensor?

    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true, device: Device = .cpu, seed: UInt64 = 0) throws {
        guard inFeatures >= 1 else { throw LSTMKitError.invalidArgument(name: "Linear.inFeatures", value: "\(inFeatures)", reason: "must be at least 1") }
        guard outFeatures >= 1 else { throw LSTMKitError.invalidArgument(name: "Linear.outFeatures", value: "\(outFeatures)", reason: "must be at least 1") }
        guard case (let w, false) = outFeatures.multipliedReportingOverflow(by: inFeatures),
              case (let n, false) = w.addingReportingOverflow(bias ? outFeatures : 0) else {
            throw LSTMKitError.invalidArgument(name: "Linear.outFeatures x inFeatures", value: "\(outFeatures) x \(inFeatures)",
                                               reason: "the parameter count overflows Int")
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.hasBias = bias
        self.device = device
        flatGradients = try Tensor.zeros([n], device: device)
        var generator = SeededGenerator(seed: seed)
        let k = 1 / Double(inFeatures).squareRoot()
        flatParameters = try Tensor.streaming(shape: [n], device: device) { Double.random(in: -k..<k, using: &generator) }
    }

    public var parameterBuffers: [ParameterBuffer] { [ParameterBuffer(parameters: flatParameters, gradients: flatGradients)] }

    /// "weight", then "bias" (when there is one): `nn.Linear`'s state-dict names.
    public var parameterNames: [String] { hasBias ? ["weight", "bias"] : ["weight"] }
    /// Views into `flatParameters` by name: `weight [out, in]`, `bias [out]`.
    public var parameters: [String: Tensor] { views(of: flatParameters) }
    /// Views into `flatGradients` by name, same shapes as `parameters`.
    public var gradients: [String: Tensor] { views(of: flatGradients) }

    private func views(of t: Tensor) -> [String: Tensor] {
        var d = ["weight": Tensor(shape: [outFeatures, inFeatures], view: t.view, device: device)]
        if hasBias { d["bias"] = Tensor(shape: [outFeatures], view: t.view.advanced(by: outFeatures * inFeatures), device: device) }
        return d
    }

    /// `[..., inFeatures]` -> `[..., outFeatures]`. Keeps `input` for `backward`.
    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.device == device else { throw LSTMKitError.deviceMismatch(what: "Linear input", expected: "\(device)", got: "\(x.device)") }
        guard x.shape.count >= 1, x.shape.last == inFeatures, x.count > 0 else {
            throw LSTMKitError.shapeMismatch(what: "Linear input", expected: "[..., \(inFeatures)] with no empty dimension", got: x.shape)
        }
        let be = device.training
        let rows = x.count / inFeatures
        let y = try be.allocate(rows * outFeatures)
        try be.gemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1, a: x.view, lda: inFeatures,
                    b: flatParameters.view, ldb: inFeatures, beta: 0, c: BufferView(y), ldc: outFeatures)
        if hasBias {
            try be.addRowBias(rows: rows, cols: outFeatures, bias: flatParameters.view.advanced(by: outFeatures * inFeatures), y: BufferView(y))
        }
        input = x
        return Tensor(shape: Array(x.shape.dropLast()) + [outFeatures], view: BufferView(y), device: device)
    }

    /// Adds dL/dweight and dL/dbias for the last `forward` to `gradients` (they accumulate until `zeroGrad`) and
    /// returns dL/dx (`[..., inFeatures]`), or nil with `inputGradient: false`.
    @discardableResult
    public func backward(gradOutput dy: Tensor, inputGradient: Bool = true) throws -> Tensor? {
        guard let x = input else { throw LSTMKitError.noForwardPass }
        let expected = Array(x.shape.dropLast()) + [outFeatures]
        guard dy.shape == expected else { throw LSTMKitError.shapeMismatch(what: "Linear output gradient", expected: "\(expected)", got: dy.shape) }
        guard dy.device == device else { throw LSTMKitError.deviceMismatch(what: "Linear output gradient", expected: "\(device)", got: "\(dy.device)") }
        let be = device.training
        let rows = x.count / inFeatures
        try be.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1, a: dy.view, lda: outFeatures,
                    b: x.view, ldb: inFeatures, beta: 1, c: flatGradients.view, ldc: inFeatures)
        if hasBias {
            try be.columnSum(m: rows, n: outFeatures, x: dy.view, ld: outFeatures, beta: 1, out: flatGradients.view.advanced(by: outFeatures * inFeatures))
        }
        guard inputGradient else { return nil }
        let dx = try be.allocate(rows * inFeatures)
        try be.gemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1, a: dy.view, lda: outFeatures,
                    b: flatParameters.view, ldb: inFeatures, beta: 0, c: BufferView(dx), ldc: inFeatures)
        return Tensor(shape: x.shape, view: BufferView(dx), device: device)
    }

    /// Sets the gradients to zero.
    public func zeroGrad() throws { try device.backend.fill(flatGradients.view, count: flatGradients.count, value: 0) }
}
