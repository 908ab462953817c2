/// The parameters of a PyTorch-style recurrent network (`LSTM`: 4 gates, `GRU`: 3): `state_dict` names and
/// shapes, one flat parameter buffer and one flat gradient buffer in the same layout, the views of each layer
/// and direction, and PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)) from a generator seeded with `seed`.
///
/// Per layer `l` and direction (suffix `_l{l}`, then `_l{l}_reverse`), in this order:
/// - `weight_ih [G*H, in]`, `weight_hh [G*H, R]`, with `bias`: `bias_ih [G*H]`, `bias_hh [G*H]` (PyTorch);
/// - with a projection (PyTorch's `proj_size` P): `weight_hr [P, H]` (PyTorch);
/// - with peepholes: `peephole_i`, `peephole_f`, `peephole_o`, each `[H]` (contiguous, so one `[3H]` view);
/// - with layer norm: `ln_ih_weight`, `ln_ih_bias`, `ln_hh_weight`, `ln_hh_bias` `[G*H]`, `ln_c_weight`,
///   `ln_c_bias` `[H]`, initialised to 1 (weights) and 0 (biases), as `torch.nn.LayerNorm`.
/// R (the recurrent width) is P with a projection, else H; `in` is the input size for layer 0, else D*R.
struct RecurrentParameters {
    /// One layer-direction's layer-norm parameters (or their gradients).
    struct LayerNorm {
        let ihWeight, ihBias, hhWeight, hhBias, cWeight, cBias: BufferView
    }
    /// Views of one layer-direction's parameters and gradients.
    struct Weights {
        let inputSize: Int
        let wih, whh, gwih, gwhh: BufferView
        let bih, bhh, gbih, gbhh: BufferView?
        /// Projection `weight_hr` [P, H] and its gradient.
        let whr, gwhr: BufferView?
        /// Peepholes [3H] (i, f, o) and their gradient.
        let peephole, gpeephole: BufferView?
        let layerNorm, glayerNorm: LayerNorm?
        /// What the layer-norm cell kernels read (nil without layer norm).
        var layerNormCell: LayerNormCellParameters? {
            layerNorm.map {
                LayerNormCellParameters(biasIH: bih, biasHH: bhh, hhWeight: $0.hhWeight, hhBias: $0.hhBias, cWeight: $0.cWeight, cBias: $0.cBias)
            }
        }
    }

    let names: [String]
    let parameters: [String: Tensor]
    let gradients: [String: Tensor]
    let flatParameters: Tensor
    let flatGradients: Tensor
    /// [layer][direction]
    let weights: [[Weights]]

    init(gates: Int, inputSize: Int, hiddenSize H: Int, numLayers: Int, directions D: Int, bias: Bool,
         projSize P: Int = 0, peephole: Bool = false, layerNorm: Bool = false, device: Device, seed: UInt64) throws {
        // Sizes come from the caller (or a model file): every product and sum is checked, and the buffers are
        // allocated before any initial value is drawn.
        let sizes = "inputSize \(inputSize), hiddenSize \(H), numLayers \(numLayers)" + (P > 0 ? ", projSize \(P)" : "")
        let R = P > 0 ? P : H
        // The parameter count of one layer-direction whose input has `n` features (the shapes listed below).
        func perDirection(_ n: Int) -> Int? {
            guard let G = Memory.product([gates, H]) else { return nil }
            var parts = [[G, n], [G, R]]
            if bias { parts += [[2, G]] }
            if P > 0 { parts.append([P, H]) }
            if peephole { parts.append([3, H]) }
            if layerNorm { parts += [[4, G], [2, H]] }
            var sum = 0
            for part in parts {
                guard let c = Memory.product(part), case (let s, false) = sum.addingReportingOverflow(c) else { return nil }
                sum = s
            }
            return sum
        }
        // total = D * (first layer + (numLayers - 1) * each further layer), all checked, before anything is built.
        guard let upper = Memory.product([D, R]), let first = perDirection(inputSize), let rest = perDirection(upper),
              let further = Memory.product([numLayers - 1, rest]), case (let perD, false) = first.addingReportingOverflow(further),
              let total = Memory.product([D, perD]) else {
            throw LSTMKitError.invalidArgument(name: "recurrent layer sizes", value: sizes, reason: "the parameter count overflows Int")
        }
        let pb = try device.backend.allocate(total), gb = try device.backend.allocateZeros(total)
        let G = gates * H
        let lnNames = ["ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "ln_c_weight", "ln_c_bias"]
        var names: [String] = [], shapes: [[Int]] = []
        for l in 0..<numLayers {
            for d in 0..<D {
                let s = "_l\(l)" + (d == 1 ? "_reverse" : "")
                names += ["weight_ih" + s, "weight_hh" + s]
                shapes += [[G, l == 0 ? inputSize : D * R], [G, R]]
                if bias { names += ["bias_ih" + s, "bias_hh" + s]; shapes += [[G], [G]] }
                if P > 0 { names.append("weight_hr" + s); shapes.append([P, H]) }
                if peephole { names += ["peephole_i" + s, "peephole_f" + s, "peephole_o" + s]; shapes += [[H], [H], [H]] }
                if layerNorm { names += lnNames.map { $0 + s }; shapes += [[G], [G], [G], [G], [H], [H]] }
            }
        }
        var params: [String: Tensor] = [:], grads: [String: Tensor] = [:], offsets: [String: Int] = [:], offset = 0
        for (name, shape) in zip(names, shapes) {
            params[name] = Tensor(shape: shape, view: BufferView(pb, offset), device: device)
            grads[name] = Tensor(shape: shape, view: BufferView(gb, offset), device: device)
            offsets[name] = offset
            offset += shape.reduce(1, *)
        }
        assert(offset == total, "RecurrentParameters: the checked count \(total) differs from the layout's \(offset)")
        self.names = names
        parameters = params
        gradients = grads
        flatParameters = Tensor(shape: [total], view: BufferView(pb), device: device)
        flatGradients = Tensor(shape: [total], view: BufferView(gb), device: device)
        weights = (0..<numLayers).map { l in
            (0..<D).map { d in
                let s = "_l\(l)" + (d == 1 ? "_reverse" : "")
                func p(_ n: String) -> BufferView { BufferView(pb, offsets[n + s]!) }
                func g(_ n: String) -> BufferView { BufferView(gb, offsets[n + s]!) }
                func ln(_ v: (String) -> BufferView) -> LayerNorm {
                    LayerNorm(ihWeight: v("ln_ih_weight"), ihBias: v("ln_ih_bias"), hhWeight: v("ln_hh_weight"),
                              hhBias: v("ln_hh_bias"), cWeight: v("ln_c_weight"), cBias: v("ln_c_bias"))
                }
                return Weights(inputSize: l == 0 ? inputSize : D * R, wih: p("weight_ih"), whh: p("weight_hh"),
                               gwih: g("weight_ih"), gwhh: g("weight_hh"), bih: bias ? p("bias_ih") : nil, bhh: bias ? p("bias_hh") : nil,
                               gbih: bias ? g("bias_ih") : nil, gbhh: bias ? g("bias_hh") : nil,
                               whr: P > 0 ? p("weight_hr") : nil, gwhr: P > 0 ? g("weight_hr") : nil,
                               peephole: peephole ? p("peephole_i") : nil, gpeephole: peephole ? g("peephole_i") : nil,
                               layerNorm: layerNorm ? ln(p) : nil, glayerNorm: layerNorm ? ln(g) : nil)
            }
        }
        var generator = SeededGenerator(seed: seed)
        let k = 1 / Double(H).squareRoot()
        try flatParameters.assignStreaming { Double.random(in: -k..<k, using: &generator) }
        for name in names where name.hasPrefix("ln_") {
            let t = params[name]!
            try t.assign([Double](repeating: name.contains("_weight") ? 1 : 0, count: t.count))
        }
    }
}
