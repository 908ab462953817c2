import Foundation

/// A multi-layer, optionally bidirectional GRU with PyTorch `nn.GRU`'s formula, parameters and shapes.
///
/// Shapes (B = batch, T = time steps, I = input size, H = hidden size, L = layers, D = 2 if bidirectional else 1):
/// input `[T, B, I]` (`[B, T, I]` with `batchFirst`), output `[T, B, D*H]`, h0 and h_n `[L*D, B, H]`.
/// Parameters: `weight_ih_l{k}[_reverse]` `[3H, I or D*H]`, `weight_hh_l{k}` `[3H, H]`, `bias_ih_l{k}`,
/// `bias_hh_l{k}` `[3H]`; gate order r, z, n; `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`.
/// Same data flow as `LSTM`: one GEMM for the input projection of all steps, then per step one GEMM and one
/// fused cell kernel; backward per step one fused kernel and one GEMM, then one GEMM each for the weights.
public final class GRU: ParameterOwner {
    public let inputSize: Int, hiddenSize: Int, numLayers: Int
    public let bias: Bool, batchFirst: Bool, bidirectional: Bool
    /// Dropout probability on the outputs of every layer but the last, in training mode only.
    public let dropout: Double
    public let device: Device
    public var training = true
    public var numDirections: Int { bidirectional ? 2 : 1 }
    public let parameterNames: [String]
    public let parameters: [String: Tensor]
    public let gradients: [String: Tensor]
    public let flatParameters: Tensor
    public let flatGradients: Tensor
    public var parameterBuffers: [ParameterBuffer] { [ParameterBuffer(parameters: flatParameters, gradients: flatGradients)] }

    private let weights: [[RecurrentParameters.Weights]]
    private struct Tape {
        let steps: Int, batch: Int
        let lengths: DeviceBuffer
        let layerInputs: [BufferView]
        let hs: [[DeviceBuffer]], gates: [[DeviceBuffer]]
        let dropoutSeeds: [UInt32?]
    }
    private var tape: Tape?
    private var dropoutGenerator: SeededGenerator
    private let checks: RecurrentInputChecks

    /// Creates the layer with PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)) from a generator seeded with `seed`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, device: Device = .cpu, seed: UInt64 = 0) throws {
        for (name, value) in [("inputSize", inputSize), ("hiddenSize", hiddenSize), ("numLayers", numLayers)] where value < 1 {
            throw LSTMKitError.invalidArgument(name: name, value: "\(value)", reason: "must be at least 1")
        }
        guard dropout >= 0, dropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "dropout", value: "\(dropout)", reason: "must be in [0, 1)")
        }
        self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.numLayers = numLayers
        self.bias = bias; self.batchFirst = batchFirst; self.dropout = dropout; self.bidirectional = bidirectional
        self.device = device
        dropoutGenerator = SeededGenerator(seed: seed ^ 0xD50_0000)
        let D = bidirectional ? 2 : 1
        // The parameters first: they check the sizes (numLayers * D below cannot overflow once they exist).
        let layout = try RecurrentParameters(gates: 3, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                             directions: D, bias: bias, device: device, seed: seed)
        checks = RecurrentInputChecks(device: device, inputSize: inputSize, batchFirst: batchFirst, stateCount: numLayers * D, hiddenSize: hiddenSize)
        parameterNames = layout.names; parameters = layout.parameters; gradients = layout.gradients
        flatParameters = layout.flatParameters; flatGradients = layout.flatGradients
        weights = layout.weights
    }

    /// Runs the layer; `lengths` gives packed-sequence semantics as in `LSTM.forward`.
    /// - Returns: `output` `[T, B, D*H]` (batch-first: `[B, T, D*H]`) and `h_n` `[L*D, B, H]`.
    public func forward(_ input: Tensor, lengths: [Int]? = nil, initialState h0: Tensor? = nil) throws -> (output: Tensor, state: Tensor) {
        let (T, B) = try checks.input(input)
        let lens = try checks.lengths(lengths, batch: B, steps: T)
        if let h0 { try checks.state(h0, "h0", batch: B) }
        let be = device.gru
        let D = numDirections, H = hiddenSize, G = 3 * H, L = numLayers
        let lengthsBuffer = try be.allocateIndices(lens.map { Int32($0) })
        var x = input.view
        if batchFirst {
            let xt = try be.allocate(T * B * inputSize)
            try be.transpose01(d0: B, d1: T, features: inputSize, src: input.view, dst: BufferView(xt))
            x = BufferView(xt)
        }
        let gx = try be.allocate(T * B * G), gh = try be.allocate(B * G), hn = try be.allocate(L * D * B * H)
        var layerInputs: [BufferView] = [], seeds: [UInt32?] = [], hsAll: [[DeviceBuffer]] = [], gatesAll: [[DeviceBuffer]] = []
        var y = x.buffer
        for l in 0..<L {
            let inSize = weights[l][0].inputSize
            var seed: UInt32? = nil
            if l > 0, training, dropout > 0 {
                seed = UInt32(truncatingIfNeeded: dropoutGenerator.next())
                let xd = try be.allocate(T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed!, x: x, y: BufferView(xd))
                x = BufferView(xd)
            }
            layerInputs.append(x); seeds.append(seed)
            y = try be.allocate(T * B * D * H)
            var hsL: [DeviceBuffer] = [], gatesL: [DeviceBuffer] = []
            for d in 0..<D {
                let w = weights[l][d], index = l * D + d
                // gx[T*B, 3H] = x . W_ih^T for all steps, W_ih prepared as in LSTM (StepOperand, unpacked).
                let wih = try StepOperand(be, b: w.wih, transB: true, k: inSize, n: G, ldb: inSize, packs: false) { try be.allocate($0) }
                try wih.gemm(be, m: T * B, a: x, lda: inSize, beta: 0, c: BufferView(gx), ldc: G)
                let hs = try be.allocate((T + 1) * B * H), gates = try be.allocate(T * B * 4 * H)
                if let h0 { try be.copy(h0.view.advanced(by: index * B * H), to: BufferView(hs), count: B * H) }
                else { try be.fill(BufferView(hs), count: B * H, value: 0) }
                // gh = h . W_hh^T at every step: op(B) = W_hh^T [H, 3H], prepared once (StepOperand).
                let whhStep = try StepOperand(be, b: w.whh, transB: true, k: H, n: G, ldb: H) { try be.allocate($0) }
                for s in 0..<T {
                    try whhStep.gemm(be, m: B, a: BufferView(hs, s * B * H), lda: H, beta: 0, c: BufferView(gh), ldc: G)
                    try be.gruCellForward(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: lengthsBuffer,
                                          gx: BufferView(gx), gh: BufferView(gh), biasIH: w.bih, biasHH: w.bhh,
                                          hs: BufferView(hs), gates: BufferView(gates), y: BufferView(y, d * H), ldy: D * H)
                }
                try be.copy(BufferView(hs, T * B * H), to: BufferView(hn, index * B * H), count: B * H)
                hsL.append(hs); gatesL.append(gates)
            }
            hsAll.append(hsL); gatesAll.append(gatesL)
            x = BufferView(y)
        }
        tape = Tape(steps: T, batch: B, lengths: lengthsBuffer, layerInputs: layerInputs, hs: hsAll, gates: gatesAll, dropoutSeeds: seeds)
        return (try fromTimeMajor(BufferView(y), T, B, D * H), Tensor(shape: [L * D, B, H], view: BufferView(hn), device: device))
    }

    /// BPTT for the last `forward`: accumulates parameter gradients and returns the gradients w.r.t. the input and h0.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil) throws -> (input: Tensor, h0: Tensor) {
        let g = try backward(gradOutput: gradOutput, gradH: gradH, inputGradient: true)
        return (g.input!, g.h0)
    }

    /// `backward(gradOutput:gradH:)`; with `inputGradient: false` the input gradient is not computed (nil), as
    /// `LSTM.backward(gradOutput:gradH:gradC:inputGradient:)`: the first layer's dX gemm is skipped.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil, inputGradient: Bool) throws -> (input: Tensor?, h0: Tensor) {
        guard let tape else { throw LSTMKitError.noForwardPass }
        let T = tape.steps, B = tape.batch, be = device.gru
        let D = numDirections, H = hiddenSize, G = 3 * H, L = numLayers
        if let g = gradOutput {
            try checks.device(g, "gradOutput")
            let expected = batchFirst ? [B, T, D * H] : [T, B, D * H]
            guard g.shape == expected else { throw LSTMKitError.shapeMismatch(what: "gradOutput", expected: "\(expected)", got: g.shape) }
        }
        if let g = gradH { try checks.state(g, "gradH", batch: B) }
        var dy: BufferView
        if let g = gradOutput, batchFirst {
            let t = try be.allocate(T * B * D * H)
            try be.transpose01(d0: B, d1: T, features: D * H, src: g.view, dst: BufferView(t))
            dy = BufferView(t)
        } else {
            dy = try gradOutput?.view ?? BufferView(be.allocateZeros(T * B * D * H))
        }
        let dh0 = try be.allocate(L * D * B * H), dh = try be.allocate(B * H)
        let dgh = try be.allocate(T * B * G), dgx = try be.allocate(T * B * G)
        var dx: DeviceBuffer? = nil
        for l in (0..<L).reversed() {
            let inSize = weights[l][0].inputSize, x = tape.layerInputs[l]
            dx = l > 0 || inputGradient ? try be.allocate(T * B * inSize) : nil
            for d in 0..<D {
                let w = weights[l][d], index = l * D + d, hs = tape.hs[l][d]
                if let g = gradH { try be.copy(g.view.advanced(by: index * B * H), to: BufferView(dh), count: B * H) }
                else { try be.fill(BufferView(dh), count: B * H, value: 0) }
                // dh += dG_h . W_hh at every step: op(B) = W_hh [3H, H], prepared once (StepOperand).
                let whhStep = try StepOperand(be, b: w.whh, transB: false, k: G, n: H, ldb: H) { try be.allocate($0) }
                for s in (0..<T).reversed() {
                    try be.gruCellBackward(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: tape.lengths,
                                           gates: BufferView(tape.gates[l][d]), hs: BufferView(hs), dy: dy.advanced(by: d * H), lddy: D * H,
                                           dh: BufferView(dh), dgh: BufferView(dgh), dgx: BufferView(dgx))
                    try whhStep.gemm(be, m: B, a: BufferView(dgh, s * B * G), lda: G, beta: 1, c: BufferView(dh), ldc: H)
                }
                try be.copy(BufferView(dh), to: BufferView(dh0, index * B * H), count: B * H)
                try be.gemm(transA: true, transB: false, m: G, n: inSize, k: T * B, alpha: 1, a: BufferView(dgx), lda: G,
                            b: x, ldb: inSize, beta: 1, c: w.gwih, ldc: inSize)
                try be.gemm(transA: true, transB: false, m: G, n: H, k: T * B, alpha: 1, a: BufferView(dgh), lda: G,
                            b: BufferView(hs), ldb: H, beta: 1, c: w.gwhh, ldc: H)
                if let gbih = w.gbih, let gbhh = w.gbhh {
                    try be.columnSum(m: T * B, n: G, x: BufferView(dgx), ld: G, beta: 1, out: gbih)
                    try be.columnSum(m: T * B, n: G, x: BufferView(dgh), ld: G, beta: 1, out: gbhh)
                }
                if let dx {
                    try be.gemm(transA: false, transB: false, m: T * B, n: inSize, k: G, alpha: 1, a: BufferView(dgx), lda: G,
                                b: w.wih, ldb: inSize, beta: d == 0 ? 0 : 1, c: BufferView(dx), ldc: inSize)
                }
            }
            if let seed = tape.dropoutSeeds[l], let dropped = dx {
                let undropped = try be.allocate(T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed, x: BufferView(dropped), y: BufferView(undropped))
                dx = undropped
            }
            if let dx { dy = BufferView(dx) }
        }
        self.tape = nil
        return (try dx.map { try fromTimeMajor(BufferView($0), T, B, inputSize) }, Tensor(shape: [L * D, B, H], view: BufferView(dh0), device: device))
    }

    public func zeroGrad() throws { try device.backend.fill(flatGradients.view, count: flatGradients.count, value: 0) }

    /// Restarts the dropout mask sequence (tests use it to repeat a training-mode forward exactly).
    func resetDropoutGenerator(seed: UInt64) { dropoutGenerator = SeededGenerator(seed: seed ^ 0xD50_0000) }

    private func fromTimeMajor(_ y: BufferView, _ T: Int, _ B: Int, _ F: Int) throws -> Tensor {
        guard batchFirst else { return Tensor(shape: [T, B, F], view: y, device: device) }
        let out = try device.backend.allocate(T * B * F)
        try device.backend.transpose01(d0: T, d1: B, features: F, src: y, dst: BufferView(out))
        return Tensor(shape: [B, T, F], view: BufferView(out), device: device)
    }
}
