/// The parameters of a PyTorch-style recurrent network (`LSTM`: 4 gates, `GRU`: 3): `state_dict` names and
/// shapes, one flat parameter buffer and one flat gradient buffer in the same layout, the views of each layer
/// and direction, and PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)) from a generator seeded with `seed`.
///
/// Per layer `l` and direction (suffix `_l{l}`, then `_l{l}_reverse`): `weight_ih [G*H, in]`, `weight_hh [G*H, H]`,
/// and with `bias`: `bias_ih [G*H]`, `bias_hh [G*H]`; `in` is the input size for layer 0, else D*H.
struct RecurrentParameters {
    /// Views of one layer-direction's parameters and gradients.
    struct Weights {
        let inputSize: Int
        let wih, whh, gwih, gwhh: BufferView
        let bih, bhh, gbih, gbhh: BufferView?
    }

    let names: [String]
    let parameters: [String: Tensor]
    let gradients: [String: Tensor]
    let flatParameters: Tensor
    let flatGradients: Tensor
    /// [layer][direction]
    let weights: [[Weights]]

    init(gates: Int, inputSize: Int, hiddenSize H: Int, numLayers: Int, directions D: Int, bias: Bool,
         device: Device, seed: UInt64) throws {
        let G = gates * H
        var names: [String] = [], shapes: [[Int]] = []
        for l in 0..<numLayers {
            for d in 0..<D {
                let s = "_l\(l)" + (d == 1 ? "_reverse" : "")
                names += ["weight_ih" + s, "weight_hh" + s]
                shapes += [[G, l == 0 ? inputSize : D * H], [G, H]]
                if bias { names += ["bias_ih" + s, "bias_hh" + s]; shapes += [[G], [G]] }
            }
        }
        let total = shapes.reduce(0) { $0 + $1.reduce(1, *) }
        let pb = try device.backend.allocate(total), gb = try device.backend.allocateZeros(total)
        var params: [String: Tensor] = [:], grads: [String: Tensor] = [:], offsets: [String: Int] = [:], offset = 0
        for (name, shape) in zip(names, shapes) {
            params[name] = Tensor(shape: shape, view: BufferView(pb, offset), device: device)
            grads[name] = Tensor(shape: shape, view: BufferView(gb, offset), device: device)
            offsets[name] = offset
            offset += shape.reduce(1, *)
        }
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
                return Weights(inputSize: l == 0 ? inputSize : D * H, wih: p("weight_ih"), whh: p("weight_hh"),
                               gwih: g("weight_ih"), gwhh: g("weight_hh"), bih: bias ? p("bias_ih") : nil, bhh: bias ? p("bias_hh") : nil,
                               gbih: bias ? g("bias_ih") : nil, gbhh: bias ? g("bias_hh") : nil)
            }
        }
        var generator = SeededGenerator(seed: seed)
        let k = 1 / Double(H).squareRoot()
        try flatParameters.assign((0..<total).map { _ in Double.random(in: -k..<k, using: &generator) })
    }
}
