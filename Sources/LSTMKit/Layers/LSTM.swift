import Foundation

/// A multi-layer, optionally bidirectional LSTM with PyTorch `nn.LSTM`'s parameters, shapes and numbers.
///
/// Shapes (B = batch, T = time steps, I = input size, H = hidden size, L = layers, D = 2 if bidirectional else 1):
/// - input: `[T, B, I]`, or `[B, T, I]` with `batchFirst`
/// - output: `[T, B, D*H]` (or `[B, T, D*H]`); past a sequence's length the output is 0
/// - h0, c0, h_n, c_n: `[L*D, B, H]`, index `layer*D + direction`
///
/// Parameters are named as PyTorch's `state_dict`: `weight_ih_l{k}[_reverse]` `[4H, I or D*H]`,
/// `weight_hh_l{k}` `[4H, H]`, `bias_ih_l{k}`, `bias_hh_l{k}` `[4H]`, gate order i, f, g, o. They live in one
/// flat buffer (`flatParameters`), their gradients in another of the same layout.
///
/// Internally everything is time-major. Per layer and direction the forward pass is one GEMM for the input
/// projection of all steps, then per step one GEMM (`h . W_hh^T`) and one fused cell kernel; backward is
/// per step one fused kernel and one GEMM (`dG . W_hh`), then one GEMM each for dW_ih, dW_hh and dX over
/// all steps. Nothing waits on the host inside the time loop.
public final class LSTM {
    public let inputSize: Int
    public let hiddenSize: Int
    public let numLayers: Int
    public let bias: Bool
    public let batchFirst: Bool
    /// Dropout probability on the outputs of every layer but the last, in training mode only.
    public let dropout: Double
    public let bidirectional: Bool
    /// Cell clipping (as cuDNN): c_t is clamped to [-cellClip, cellClip] in the fused cell kernel; nil: off.
    public let cellClip: Double?
    public let device: Device
    /// Training mode enables dropout (as PyTorch's `module.train()`).
    public var training = true

    public var numDirections: Int { bidirectional ? 2 : 1 }
    /// Parameter names in PyTorch's `state_dict` order.
    public let parameterNames: [String]
    /// The parameters by name: views into `flatParameters`.
    public let parameters: [String: Tensor]
    /// The accumulated gradients by name (same names and shapes): views into `flatGradients`.
    public let gradients: [String: Tensor]
    /// All parameters, concatenated in `parameterNames` order.
    public let flatParameters: Tensor
    /// All gradients, in the same layout as `flatParameters`.
    public let flatGradients: Tensor

    /// Views of each layer-direction's parameters and gradients, [layer][direction].
    let weights: [[RecurrentParameters.Weights]]

    /// What the forward pass keeps for backward.
    struct Tape {
        let steps: Int, batch: Int
        let lengths: DeviceBuffer
        let layerInputs: [BufferView]  // time-major [T, B, in_l], after dropout
        let hs: [[DeviceBuffer]], cs: [[DeviceBuffer]], gates: [[DeviceBuffer]]  // [layer][direction]
        let dropoutSeeds: [UInt32?]  // per layer: the seed of the dropout applied to its input
    }
    private var tape: Tape?
    private var dropoutGenerator: SeededGenerator
    /// Scratch and tape buffers kept from call to call (by role), so a training loop allocates (and, on the
    /// CPU, page-faults) nothing but the tensors it hands out. Only buffers that never leave the layer live
    /// here: the output, h_n, c_n and the returned gradients are fresh every call.
    private var workspace: [String: DeviceBuffer] = [:]
    /// The last sequence lengths uploaded, and their device buffer (read-only once written).
    private var cachedLengths: (values: [Int32], buffer: DeviceBuffer)?

    /// The workspace buffer `key` with room for `count` scalars (reallocated only when too small).
    private func scratch(_ key: String, _ count: Int) throws -> DeviceBuffer {
        if let b = workspace[key], b.count >= count { return b }
        workspace[key] = nil
        let b = try device.backend.allocate(count)
        workspace[key] = b
        return b
    }

    /// Creates the layer with PyTorch's initialisation, U(-1/sqrt(H), 1/sqrt(H)) for every parameter,
    /// drawn from a generator seeded with `seed` (the distribution is PyTorch's; the values are not).
    /// `cellClip` (> 0) clamps the cell state to [-cellClip, cellClip] at every step, as cuDNN's cell clipping.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, cellClip: Double? = nil, device: Device = .cpu,
                seed: UInt64 = 0) throws {
        if let clip = cellClip, !(clip > 0) {
            throw LSTMKitError.invalidArgument(name: "cellClip", value: "\(clip)", reason: "must be > 0 (nil turns clipping off)")
        }
        self.cellClip = cellClip
        for (name, value) in [("inputSize", inputSize), ("hiddenSize", hiddenSize), ("numLayers", numLayers)] where value < 1 {
            throw LSTMKitError.invalidArgument(name: name, value: "\(value)", reason: "must be at least 1")
        }
        guard dropout >= 0, dropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "dropout", value: "\(dropout)", reason: "must be in [0, 1)")
        }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bias = bias
        self.batchFirst = batchFirst
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.device = device
        dropoutGenerator = SeededGenerator(seed: seed ^ 0xD50_0000)

        let layout = try RecurrentParameters(gates: 4, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                             directions: bidirectional ? 2 : 1, bias: bias, device: device, seed: seed)
        parameterNames = layout.names
        parameters = layout.parameters
        gradients = layout.gradients
        flatParameters = layout.flatParameters
        flatGradients = layout.flatGradients
        weights = layout.weights
    }

    // MARK: Forward

    /// Runs the layer. `lengths` (one per sequence, each in 1...T, padding on the right) gives PyTorch's
    /// packed-sequence semantics: outputs past a length are 0, `h_n`/`c_n` are the state at the last valid step,
    /// and the reverse direction starts at each sequence's own last valid step. `initialState` defaults to zeros.
    /// - Returns: `output` `[T, B, D*H]` (batch-first: `[B, T, D*H]`) and `(h_n, c_n)` `[L*D, B, H]`.
    public func forward(_ input: Tensor, lengths: [Int]? = nil, initialState: (h: Tensor, c: Tensor)? = nil)
        throws -> (output: Tensor, state: (h: Tensor, c: Tensor)) {
        let (T, B) = try checks.input(input)
        let lens = try checks.lengths(lengths, batch: B, steps: T)
        if let s = initialState {
            try checks.state(s.h, "h0", batch: B)
            try checks.state(s.c, "c0", batch: B)
        }
        let be = device.backend
        let D = numDirections, H = hiddenSize, G = 4 * H, L = numLayers
        let preferNN = be.prefersNNGemm
        let lengths32 = lens.map { Int32($0) }
        let lengthsBuffer: DeviceBuffer
        if let cached = cachedLengths, cached.values == lengths32 {
            lengthsBuffer = cached.buffer  // unchanged lengths: no upload (on OpenCL that write would block)
        } else {
            lengthsBuffer = try be.allocateIndices(lengths32)
            cachedLengths = (lengths32, lengthsBuffer)
        }

        var x = input.view
        if batchFirst {
            let xt = try scratch("xt", T * B * inputSize)
            try be.transpose01(d0: B, d1: T, features: inputSize, src: input.view, dst: BufferView(xt))
            x = BufferView(xt)
        }
        let gx = try scratch("gx", T * B * G), r = try scratch("r", B * G)
        let hn = try be.allocate(L * D * B * H), cn = try be.allocate(L * D * B * H)
        var layerInputs: [BufferView] = [], seeds: [UInt32?] = []
        var hsAll: [[DeviceBuffer]] = [], csAll: [[DeviceBuffer]] = [], gatesAll: [[DeviceBuffer]] = []
        var y = x.buffer
        for l in 0..<L {
            let inSize = weights[l][0].inputSize
            var seed: UInt32? = nil
            if l > 0, training, dropout > 0 {
                seed = UInt32(truncatingIfNeeded: dropoutGenerator.next())
                let xd = try scratch("dropout\(l)", T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed!, x: x, y: BufferView(xd))
                x = BufferView(xd)
            }
            layerInputs.append(x)
            seeds.append(seed)
            y = l == L - 1 ? try be.allocate(T * B * D * H) : try scratch("y\(l)", T * B * D * H)
            var hsL: [DeviceBuffer] = [], csL: [DeviceBuffer] = [], gatesL: [DeviceBuffer] = []
            for d in 0..<D {
                let w = weights[l][d], index = l * D + d
                // Input projection for all steps: gx[T*B, 4H] = x . W_ih^T. A backend whose NN gemm is its fast one
                // gets W_ih^T [in, 4H] and W_hh^T [H, 4H], transposed once per forward.
                var whh = (view: w.whh, transposed: false)
                if preferNN {
                    let wihT = try scratch("wihT\(index)", G * inSize), whhT = try scratch("whhT\(index)", G * H)
                    try be.transpose01(d0: G, d1: inSize, features: 1, src: w.wih, dst: BufferView(wihT))
                    try be.transpose01(d0: G, d1: H, features: 1, src: w.whh, dst: BufferView(whhT))
                    try be.gemm(transA: false, transB: false, m: T * B, n: G, k: inSize, alpha: 1,
                                a: x, lda: inSize, b: BufferView(wihT), ldb: G, beta: 0, c: BufferView(gx), ldc: G)
                    whh = (BufferView(whhT), true)
                } else {
                    try be.gemm(transA: false, transB: true, m: T * B, n: G, k: inSize, alpha: 1,
                                a: x, lda: inSize, b: w.wih, ldb: inSize, beta: 0, c: BufferView(gx), ldc: G)
                }
                let hs = try scratch("hs\(index)", (T + 1) * B * H), cs = try scratch("cs\(index)", (T + 1) * B * H)
                let gates = try scratch("gates\(index)", T * B * G)
                if let s = initialState {
                    try be.copy(s.h.view.advanced(by: index * B * H), to: BufferView(hs), count: B * H)
                    try be.copy(s.c.view.advanced(by: index * B * H), to: BufferView(cs), count: B * H)
                } else {
                    try be.fill(BufferView(hs), count: B * H, value: 0)
                    try be.fill(BufferView(cs), count: B * H, value: 0)
                }
                for s in 0..<T {
                    // Recurrent product for all four gates at once: r[B, 4H] = h_{s-1} . W_hh^T.
                    try be.gemm(transA: false, transB: !whh.transposed, m: B, n: G, k: H, alpha: 1,
                                a: BufferView(hs, s * B * H), lda: H, b: whh.view, ldb: whh.transposed ? G : H,
                                beta: 0, c: BufferView(r), ldc: G)
                    try be.lstmCellForward(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: lengthsBuffer,
                                           gx: BufferView(gx), r: BufferView(r), biasIH: w.bih, biasHH: w.bhh,
                                           hs: BufferView(hs), cs: BufferView(cs), gates: BufferView(gates),
                                           y: BufferView(y, d * H), ldy: D * H, cellClip: cellClip ?? 0)
                }
                try be.copy(BufferView(hs, T * B * H), to: BufferView(hn, index * B * H), count: B * H)
                try be.copy(BufferView(cs, T * B * H), to: BufferView(cn, index * B * H), count: B * H)
                hsL.append(hs); csL.append(cs); gatesL.append(gates)
            }
            hsAll.append(hsL); csAll.append(csL); gatesAll.append(gatesL)
            x = BufferView(y)
        }
        tape = Tape(steps: T, batch: B, lengths: lengthsBuffer, layerInputs: layerInputs,
                    hs: hsAll, cs: csAll, gates: gatesAll, dropoutSeeds: seeds)

        let output = try outputFromTimeMajor(BufferView(y), steps: T, batch: B, features: D * H)
        let stateShape = [L * D, B, H]
        return (output, (Tensor(shape: stateShape, view: BufferView(hn), device: device),
                         Tensor(shape: stateShape, view: BufferView(cn), device: device)))
    }

    // MARK: Backward

    /// Backpropagation through time for the last `forward`. Takes the gradients of the loss w.r.t. `output`,
    /// `h_n` and `c_n` (nil means zero), adds the parameter gradients into `gradients` (they accumulate until
    /// `zeroGrad()`, as in PyTorch) and returns the gradients w.r.t. the input, h0 and c0.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil, gradC: Tensor? = nil)
        throws -> (input: Tensor, h0: Tensor, c0: Tensor) {
        guard let tape else { throw LSTMKitError.noForwardPass }
        let T = tape.steps, B = tape.batch
        let be = device.backend
        let D = numDirections, H = hiddenSize, G = 4 * H, L = numLayers
        if let g = gradOutput {
            try checks.device(g, "gradOutput")
            let expected = batchFirst ? [B, T, D * H] : [T, B, D * H]
            guard g.shape == expected else { throw LSTMKitError.shapeMismatch(what: "gradOutput", expected: "\(expected)", got: g.shape) }
        }
        if let g = gradH { try checks.state(g, "gradH", batch: B) }
        if let g = gradC { try checks.state(g, "gradC", batch: B) }

        // dy: gradient w.r.t. this layer's output, time-major [T, B, D*H].
        var dy: BufferView
        if let g = gradOutput {
            if batchFirst {
                let t = try scratch("dyt", T * B * D * H)
                try be.transpose01(d0: B, d1: T, features: D * H, src: g.view, dst: BufferView(t))
                dy = BufferView(t)
            } else {
                dy = g.view
            }
        } else {
            let z = try scratch("dyzero", T * B * D * H)
            try be.fill(BufferView(z), count: T * B * D * H, value: 0)
            dy = BufferView(z)
        }
        let dh0 = try be.allocate(L * D * B * H), dc0 = try be.allocate(L * D * B * H)
        let dh = try scratch("dh", B * H), dc = try scratch("dc", B * H)
        let dgs = try scratch("dgs", T * B * G)                              // gate gradients by step
        let dgtReverse = D == 2 ? try scratch("dgt", T * B * G) : dgs       // by time, for the reverse direction
        var dx = dy.buffer
        for l in (0..<L).reversed() {
            let inSize = weights[l][0].inputSize
            let x = tape.layerInputs[l]
            dx = l == 0 && !batchFirst ? try be.allocate(T * B * inSize) : try scratch("dx\(l)", T * B * inSize)
            for d in 0..<D {
                let w = weights[l][d], index = l * D + d
                let hs = tape.hs[l][d]
                let dgt = d == 1 ? dgtReverse : dgs
                if let g = gradH { try be.copy(g.view.advanced(by: index * B * H), to: BufferView(dh), count: B * H) }
                else { try be.fill(BufferView(dh), count: B * H, value: 0) }
                if let g = gradC { try be.copy(g.view.advanced(by: index * B * H), to: BufferView(dc), count: B * H) }
                else { try be.fill(BufferView(dc), count: B * H, value: 0) }
                for s in (0..<T).reversed() {
                    try be.lstmCellBackward(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: tape.lengths,
                                            gates: BufferView(tape.gates[l][d]), cs: BufferView(tape.cs[l][d]),
                                            dy: dy.advanced(by: d * H), lddy: D * H, dh: BufferView(dh), dc: BufferView(dc),
                                            dgs: BufferView(dgs), dgt: BufferView(dgt), cellClip: cellClip ?? 0)
                    // dh_{s-1} += dG[s] . W_hh
                    try be.gemm(transA: false, transB: false, m: B, n: H, k: G, alpha: 1,
                                a: BufferView(dgs, s * B * G), lda: G, b: w.whh, ldb: H, beta: 1, c: BufferView(dh), ldc: H)
                }
                try be.copy(BufferView(dh), to: BufferView(dh0, index * B * H), count: B * H)
                try be.copy(BufferView(dc), to: BufferView(dc0, index * B * H), count: B * H)
                // Weight gradients over all steps at once.
                try be.gemm(transA: true, transB: false, m: G, n: inSize, k: T * B, alpha: 1,
                            a: BufferView(dgt), lda: G, b: x, ldb: inSize, beta: 1, c: w.gwih, ldc: inSize)
                try be.gemm(transA: true, transB: false, m: G, n: H, k: T * B, alpha: 1,
                            a: BufferView(dgs), lda: G, b: BufferView(hs), ldb: H, beta: 1, c: w.gwhh, ldc: H)
                if let gbih = w.gbih, let gbhh = w.gbhh {
                    // Both bias gradients get the same column sums of dG: one pass over dG, then two adds
                    // (a one-row column sum is out += row).
                    let db = try scratch("db", G)
                    try be.columnSum(m: T * B, n: G, x: BufferView(dgs), ld: G, beta: 0, out: BufferView(db))
                    try be.columnSum(m: 1, n: G, x: BufferView(db), ld: G, beta: 1, out: gbih)
                    try be.columnSum(m: 1, n: G, x: BufferView(db), ld: G, beta: 1, out: gbhh)
                }
                // dx = dG . W_ih (the second direction adds to the first).
                try be.gemm(transA: false, transB: false, m: T * B, n: inSize, k: G, alpha: 1,
                            a: BufferView(dgt), lda: G, b: w.wih, ldb: inSize, beta: d == 0 ? 0 : 1, c: BufferView(dx), ldc: inSize)
            }
            if let seed = tape.dropoutSeeds[l] {
                let undropped = try scratch("undropped\(l)", T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed, x: BufferView(dx), y: BufferView(undropped))
                dx = undropped
            }
            dy = BufferView(dx)
        }
        self.tape = nil
        let stateShape = [L * D, B, H]
        return (try outputFromTimeMajor(BufferView(dx), steps: T, batch: B, features: inputSize),
                Tensor(shape: stateShape, view: BufferView(dh0), device: device),
                Tensor(shape: stateShape, view: BufferView(dc0), device: device))
    }

    /// Restarts the dropout mask sequence (tests use it to repeat a training-mode forward exactly).
    func resetDropoutGenerator(seed: UInt64) { dropoutGenerator = SeededGenerator(seed: seed ^ 0xD50_0000) }

    /// Sets every gradient to zero.
    public func zeroGrad() throws {
        try device.backend.fill(flatGradients.view, count: flatGradients.count, value: 0)
    }

    // MARK: Helpers

    private func outputFromTimeMajor(_ y: BufferView, steps T: Int, batch B: Int, features F: Int) throws -> Tensor {
        guard batchFirst else { return Tensor(shape: [T, B, F], view: y, device: device) }
        let out = try device.backend.allocate(T * B * F)
        try device.backend.transpose01(d0: T, d1: B, features: F, src: y, dst: BufferView(out))
        return Tensor(shape: [B, T, F], view: BufferView(out), device: device)
    }

    /// Shape, length and device validation, shared with `GRU`.
    private var checks: RecurrentInputChecks {
        RecurrentInputChecks(device: device, inputSize: inputSize, batchFirst: batchFirst,
                             stateCount: numLayers * numDirections, hiddenSize: hiddenSize)
    }
}
