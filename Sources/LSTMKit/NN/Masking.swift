/// Keras `Masking(mask_value)`: a time step whose features all equal `maskValue` is padding. The output is the
/// input with padded steps set to 0 (as Keras), and the mask goes to the next recurrent layer, which skips
/// those steps. Padding may be on the left, the right or both (see `SequenceMask`); padding between two data
/// steps is refused. Input and output `[B, T, F]`.
public final class Masking: Layer {
    public let maskValue: Double
    private var device: Device?
    private var kept: Tensor?   // [B*T, F]: 1 at data steps, 0 at padding (what backward multiplies by)

    public init(maskValue: Double = 0) { self.maskValue = maskValue }


    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard maskValue.isFinite else {
            throw LSTMKitError.invalidArgument(name: "Masking.maskValue", value: "\(maskValue)", reason: "must be finite")
        }
        guard inputShape.count == 2 else {
            throw LSTMKitError.shapeMismatch(what: "Masking input (per sample)", expected: "[T, features] (add a feature axis: reshape [N, T] to [N, T, 1])",
                                             got: inputShape)
        }
        self.device = device
        return inputShape
    }

    /// The mask of row-major `[rows, steps, features]` values: a step is padding when all its features equal `maskValue`.
    func mask(values: [Float], rows: Int, steps: Int, features: Int) throws -> SequenceMask {
        let m = Float(maskValue)
        return try SequenceMask(rows: rows, steps: steps, what: "Masking(maskValue: \(maskValue))") { step in
            values[(step * features)..<((step + 1) * features)].contains { $0 != m }
        }
    }

    public var parameterBuffers: [ParameterBuffer] { [] }
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        let device = try requireBuilt(device, "Masking")
        let t = x.tensor
        guard t.shape.count == 3 else {
            throw LSTMKitError.shapeMismatch(what: "Masking input", expected: "[batch, T, features]", got: t.shape)
        }
        let (B, T, F) = (t.shape[0], t.shape[1], t.shape[2])
        var out = x
        if x.lengths == nil {  // not computed by the model for the whole dataset: read the batch back
            let m = try mask(values: t.toArray(), rows: B, steps: T, features: F)
            out.lengths = m.lengths; out.starts = m.starts
        }
        var keep = [Float](repeating: 0, count: B * T * F)
        for b in 0..<B {
            let s = out.starts?[b] ?? 0
            for step in s..<(s + out.lengths![b]) { for f in 0..<F { keep[(b * T + step) * F + f] = 1 } }
        }
        let k = try Tensor(shape: t.shape, values: keep, device: device)
        let y = try device.training.allocate(t.count)
        try device.training.mul(count: t.count, x: t.view, y: k.view, out: BufferView(y))
        kept = k
        out.tensor = Tensor(shape: t.shape, view: BufferView(y), device: device)
        return out
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let kept, let device else { throw LSTMKitError.noForwardPass }
        guard dy.shape == kept.shape else { throw LSTMKitError.shapeMismatch(what: "Masking output gradient", expected: "\(kept.shape)", got: dy.shape) }
        let dx = try device.training.allocate(dy.count)
        try device.training.mul(count: dy.count, x: dy.view, y: kept.view, out: BufferView(dx))
        return Tensor(shape: dy.shape, view: BufferView(dx), device: device)
    }
}
