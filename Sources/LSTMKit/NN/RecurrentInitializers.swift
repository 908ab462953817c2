/// Keras's initialisation of a Keras-style recurrent layer (`LSTMLayer`, `GRULayer`): `kernel_initializer`,
/// `recurrent_initializer`, `bias_initializer` and (LSTM) `unit_forget_bias`, with Keras's defaults
/// glorot_uniform, orthogonal, zeros and true.
///
/// Drawn on Keras's layouts, then written into the PyTorch layout of the core, per direction:
/// - kernel `[in, G*H]` -> `weight_ih [G*H, in]`; recurrent kernel `[R, G*H]` -> `weight_hh [G*H, R]`
///   (fans and the orthogonal matrix are those of Keras's shapes: one orthogonal `[H, 4H]` across the gates);
/// - bias -> `bias_ih`, and `bias_hh` = 0 (Keras has one LSTM bias; PyTorch adds two). With `unitForgetBias`
///   the forget-gate block of the bias is 1 and the rest is `biasInitializer` (Keras: `[H]`, ones, `[2H]`);
/// - GRU: Keras's gate blocks are z, r, h and PyTorch's r, z, n, so blocks 0 and 1 swap; Keras's GRU bias
///   (`reset_after`) is `[2, 3H]`: row 0 -> `bias_ih`, row 1 -> `bias_hh`;
/// - a projection `weight_hr [P, H]` gets `kernelInitializer` on Keras's `[H, P]`. Peepholes and layer-norm
///   parameters keep the core's initialisation.
/// LSTM's gate order i, f, g, o is Keras's i, f, c, o, so its blocks stay in place.
public struct RecurrentInitializers: Equatable, Sendable, Codable {
    public var kernel: Initializer
    public var recurrent: Initializer
    public var bias: Initializer
    /// LSTM only: the forget gate's bias starts at 1 (Keras's `unit_forget_bias`).
    public var unitForgetBias: Bool
    public init(kernel: Initializer = .glorotUniform, recurrent: Initializer = .orthogonal(), bias: Initializer = .zeros,
                unitForgetBias: Bool = true) {
        self.kernel = kernel; self.recurrent = recurrent; self.bias = bias; self.unitForgetBias = unitForgetBias
    }

    /// Overwrites the core's weights and biases with Keras's initial values drawn from `seed`.
    func apply(to core: RecurrentCore, cell: RecurrentCell, units H: Int, projSize P: Int, seed: UInt64) throws {
        try kernel.validate("kernelInitializer")
        try recurrent.validate("recurrentInitializer")
        try bias.validate("biasInitializer")
        let G = cell == .lstm ? 4 : 3, R = P > 0 ? P : H
        // Keras block k -> PyTorch block blocks[k].
        let blocks = cell == .lstm ? [0, 1, 2, 3] : [1, 0, 2]
        // Keras [rows, G*H] (row-major) -> PyTorch [G*H, rows], gate blocks reordered.
        func toPyTorch(_ v: [Double], rows: Int) -> [Double] {
            var out = [Double](repeating: 0, count: v.count)
            for i in 0..<rows {
                for k in 0..<G {
                    let p = blocks[k]
                    for j in 0..<H { out[(p * H + j) * rows + i] = v[i * G * H + k * H + j] }
                }
            }
            return out
        }
        var generator = SeededGenerator(seed: seed ^ 0x4B45_5241_5300)  // "KERAS"
        for suffix in core.parameterNames.filter({ $0.hasPrefix("weight_ih") }).map({ String($0.dropFirst("weight_ih".count)) }) {
            func set(_ name: String, _ values: [Double]) throws {
                guard let t = core.parameters[name + suffix] else { return }
                try t.assign(values)
            }
            let wih = core.parameters["weight_ih" + suffix]!
            let I = wih.shape[1]
            try set("weight_ih", toPyTorch(kernel.values(shape: [I, G * H], using: &generator), rows: I))
            try set("weight_hh", toPyTorch(recurrent.values(shape: [R, G * H], using: &generator), rows: R))
            if cell == .lstm {
                let b = unitForgetBias
                    ? bias.values(shape: [H], using: &generator) + [Double](repeating: 1, count: H) + bias.values(shape: [2 * H], using: &generator)
                    : bias.values(shape: [4 * H], using: &generator)
                try set("bias_ih", b)
                try set("bias_hh", [Double](repeating: 0, count: 4 * H))
            } else {
                let b = bias.values(shape: [2, 3 * H], using: &generator)
                try set("bias_ih", toPyTorch(Array(b[0..<(3 * H)]), rows: 1))
                try set("bias_hh", toPyTorch(Array(b[(3 * H)...]), rows: 1))
            }
            if P > 0 { try set("weight_hr", transposed(kernel.values(shape: [H, P], using: &generator), rows: H, cols: P)) }
        }
    }
}
