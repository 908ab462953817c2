import Foundation

/// A multi-layer, optionally bidirectional LSTM with PyTorch `nn.LSTM`'s parameters, shapes and numbers, and
/// the variants PyTorch lacks: peepholes, layer norm, cell clipping and recurrent dropout (all fused, both devices).
///
/// Shapes (B = batch, T = time steps, I = input size, H = hidden size, L = layers, D = 2 if bidirectional else 1,
/// R = `projSize` if > 0 else H):
/// - input: `[T, B, I]`, or `[B, T, I]` with `batchFirst`
/// - output: `[T, B, D*R]` (or `[B, T, D*R]`); past a sequence's length the output is 0
/// - h0, h_n: `[L*D, B, R]`; c0, c_n: `[L*D, B, H]`; index `layer*D + direction`
///
/// Parameters are named as PyTorch's `state_dict`: `weight_ih_l{k}[_reverse]` `[4H, I or D*R]`,
/// `weight_hh_l{k}` `[4H, R]`, `bias_ih_l{k}`, `bias_hh_l{k}` `[4H]`, `weight_hr_l{k}` `[P, H]`, gate order
/// i, f, g, o; the variants add `peephole_{i,f,o}_l{k}` and `ln_{ih,hh,c}_{weight,bias}_l{k}` (see
/// `RecurrentParameters`). They live in one flat buffer (`flatParameters`), their gradients in another.
///
/// The variants:
/// - `projSize` (PyTorch's `proj_size`): h_t = W_hr (o * tanh(c_t)).
/// - `peephole`: i and f see c_{t-1}, o sees c_t, through diagonal weights (ONNX's P).
/// - `layerNorm` (Ba et al. 2016): a = LN_ih(W_ih x) + LN_hh(W_hh h) + b, h_t = o * tanh(LN_c(c_t)).
/// - `cellClip`: c_t is clamped to [-cellClip, cellClip] (cuDNN).
/// - `recurrentDropout` (Keras, Gal & Ghahramani): in training, h_{t-1} is multiplied by a mask drawn once per
///   sequence (and layer and direction) before the recurrent product.
///
/// Internally everything is time-major. Per layer and direction the forward pass is one GEMM for the input
/// projection of all steps, then per step one GEMM (`h . W_hh^T`), one fused cell kernel and, with a projection,
/// one GEMM and one small kernel; backward mirrors it, then one GEMM each for dW_ih, dW_hh (and dW_hr) and dX over
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
    /// PyTorch's `proj_size`: 0 (off) or the size P < H of the projected hidden state.
    public let projSize: Int
    /// Peephole connections (i, f see c_{t-1}; o sees c_t).
    public let peephole: Bool
    /// Layer normalisation of the gate pre-activations and of c_t.
    public let layerNorm: Bool
    /// Cell clipping (as cuDNN): c_t is clamped to [-cellClip, cellClip] in the fused cell kernel; nil: off.
    public let cellClip: Double?
    /// Recurrent dropout probability on h_{t-1} (one mask per sequence), in training mode only.
    public let recurrentDropout: Double
    public let device: Device
    /// Training mode enables dropout (as PyTorch's `module.train()`).
    public var training = true

    public var numDirections: Int { bidirectional ? 2 : 1 }
    /// The width of h: `projSize` if > 0, else `hiddenSize`.
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }
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

    /// What the forward pass keeps of one layer and direction for backward (buffers by step unless noted).
    struct DirectionTape {
        let hs: DeviceBuffer, cs: DeviceBuffer, gates: DeviceBuffer  // [T+1, B, R], [T+1, B, H], [T, B, 4H]
        let ms: DeviceBuffer?       // projection: m_t = o * tanh(c_t), [T+1, B, H]
        let mask: DeviceBuffer?     // recurrent dropout: [B, R]
        let hm: DeviceBuffer?       // recurrent dropout: h * mask, [T+1, B, R]
        let r: DeviceBuffer?        // layer norm: the raw recurrent products, [T, B, 4H]
        let stats: DeviceBuffer?    // layer norm: [T, B, 4]
        let gx: DeviceBuffer?       // layer norm: the raw input projection by time, [T, B, 4H]
        let statsIH: DeviceBuffer?  // layer norm: LN_ih statistics by time, [T, B, 2]
        /// The recurrent gemm's input: h, or h * mask.
        var recurrentInput: DeviceBuffer { hm ?? hs }
    }
    /// What the forward pass keeps for backward.
    struct Tape {
        let steps: Int, batch: Int
        let lengths: DeviceBuffer
        let layerInputs: [BufferView]  // time-major [T, B, in_l], after dropout
        let directions: [[DirectionTape]]  // [layer][direction]
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

    /// Creates the layer with PyTorch's initialisation, U(-1/sqrt(H), 1/sqrt(H)) for every parameter (layer-norm
    /// weights 1 and biases 0), drawn from a generator seeded with `seed` (the distribution is PyTorch's; the
    /// values are not).
    /// - Parameters:
    ///   - projSize: PyTorch's `proj_size`, 0 (off) or in 1..<hiddenSize.
    ///   - peephole: peephole connections.
    ///   - layerNorm: layer-normalised gates and cell (Ba et al. 2016).
    ///   - cellClip: > 0 clamps the cell state to [-cellClip, cellClip] at every step (cuDNN); nil: off.
    ///   - recurrentDropout: in [0, 1): dropout on h_{t-1} with one mask per sequence, in training mode.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, projSize: Int = 0, peephole: Bool = false,
                layerNorm: Bool = false, cellClip: Double? = nil, recurrentDropout: Double = 0, device: Device = .cpu,
                seed: UInt64 = 0) throws {
        if let clip = cellClip, !(clip > 0) {
            throw LSTMKitError.invalidArgument(name: "cellClip", value: "\(clip)", reason: "must be > 0 (nil turns clipping off)")
        }
        for (name, value) in [("inputSize", inputSize), ("hiddenSize", hiddenSize), ("numLayers", numLayers)] where value < 1 {
            throw LSTMKitError.invalidArgument(name: name, value: "\(value)", reason: "must be at least 1")
        }
        guard projSize >= 0, projSize < hiddenSize else {
            throw LSTMKitError.invalidArgument(name: "projSize", value: "\(projSize)",
                                               reason: "must be 0 (off) or less than hiddenSize \(hiddenSize), as PyTorch's proj_size")
        }
        guard dropout >= 0, dropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "dropout", value: "\(dropout)", reason: "must be in [0, 1)")
        }
        guard recurrentDropout >= 0, recurrentDropout < 1 else {
            throw LSTMKitError.invalidArgument(name: "recurrentDropout", value: "\(recurrentDropout)", reason: "must be in [0, 1)")
        }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bias = bias
        self.batchFirst = batchFirst
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.projSize = projSize
        self.peephole = peephole
        self.layerNorm = layerNorm
        self.cellClip = cellClip
        self.recurrentDropout = recurrentDropout
        self.device = device
        dropoutGenerator = SeededGenerator(seed: seed ^ 0xD50_0000)

        let layout = try RecurrentParameters(gates: 4, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                             directions: bidirectional ? 2 : 1, bias: bias, projSize: projSize,
                                             peephole: peephole, layerNorm: layerNorm, device: device, seed: seed)
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
    /// - Returns: `output` `[T, B, D*R]` (batch-first: `[B, T, D*R]`), `h_n` `[L*D, B, R]` and `c_n` `[L*D, B, H]`.
    public func forward(_ input: Tensor, lengths: [Int]? = nil, initialState: (h: Tensor, c: Tensor)? = nil)
        throws -> (output: Tensor, state: (h: Tensor, c: Tensor)) {
        let (T, B) = try checks.input(input)
        let lens = try checks.lengths(lengths, batch: B, steps: T)
        if let s = initialState {
            try checks.state(s.h, "h0", batch: B, width: outputSize)
            try checks.state(s.c, "c0", batch: B)
        }
        let be = device.backend
        let D = numDirections, H = hiddenSize, R = outputSize, L = numLayers
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
        let hn = try be.allocate(L * D * B * R), cn = try be.allocate(L * D * B * H)
        var layerInputs: [BufferView] = [], seeds: [UInt32?] = [], tapes: [[DirectionTape]] = []
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
            y = l == L - 1 ? try be.allocate(T * B * D * R) : try scratch("y\(l)", T * B * D * R)
            var layerTapes: [DirectionTape] = []
            for d in 0..<D {
                let index = l * D + d
                let initial = initialState.map { (h: $0.h.view.advanced(by: index * B * R), c: $0.c.view.advanced(by: index * B * H)) }
                let t = try forwardDirection(layer: l, direction: d, x: x, steps: T, batch: B, lengths: lengthsBuffer,
                                             initial: initial, y: BufferView(y, d * R))
                try be.copy(BufferView(t.hs, T * B * R), to: BufferView(hn, index * B * R), count: B * R)
                try be.copy(BufferView(t.cs, T * B * H), to: BufferView(cn, index * B * H), count: B * H)
                layerTapes.append(t)
            }
            tapes.append(layerTapes)
            x = BufferView(y)
        }
        tape = Tape(steps: T, batch: B, lengths: lengthsBuffer, layerInputs: layerInputs, directions: tapes, dropoutSeeds: seeds)

        let output = try outputFromTimeMajor(BufferView(y), steps: T, batch: B, features: D * R)
        return (output, (Tensor(shape: [L * D, B, R], view: BufferView(hn), device: device),
                         Tensor(shape: [L * D, B, H], view: BufferView(cn), device: device)))
    }

    /// The forward pass of one layer and direction: the input projection of all steps, then the time loop.
    /// Writes this direction's columns of y ([T, B, ldy = D*R], starting at y's offset).
    private func forwardDirection(layer l: Int, direction d: Int, x: BufferView, steps T: Int, batch B: Int,
                                  lengths: DeviceBuffer, initial: (h: BufferView, c: BufferView)?, y: BufferView) throws -> DirectionTape {
        let be = device.backend, w = weights[l][d], index = l * numDirections + d
        let H = hiddenSize, G = 4 * H, R = outputSize, P = projSize, inSize = w.inputSize, ldy = numDirections * R
        // Input projection for all steps: gx[T*B, 4H] = x . W_ih^T (layer norm keeps it for backward). W_ih as
        // StepOperand prepares it, unpacked: transposed once per forward for a backend whose NN gemm is its fast one.
        let gx = try scratch(layerNorm ? "gx\(index)" : "gx", T * B * G)
        let wih = try StepOperand(be, b: w.wih, transB: true, k: inSize, n: G, ldb: inSize, packs: false) { try scratch("wihT\(index)", $0) }
        try wih.gemm(be, m: T * B, a: x, lda: inSize, beta: 0, c: BufferView(gx), ldc: G)
        var gxn = gx, statsIH: DeviceBuffer? = nil
        if let ln = w.layerNorm {
            gxn = try scratch("gxn", T * B * G)
            statsIH = try scratch("statsIH\(index)", T * B * 2)
            try device.variants.layerNormForward(rows: T * B, n: G, x: BufferView(gx), weight: ln.ihWeight, bias: ln.ihBias,
                                                 y: BufferView(gxn), stats: BufferView(statsIH!))
        }

        let hs = try scratch("hs\(index)", (T + 1) * B * R), cs = try scratch("cs\(index)", (T + 1) * B * H)
        let gates = try scratch("gates\(index)", T * B * G)
        if let initial {
            try be.copy(initial.h, to: BufferView(hs), count: B * R)
            try be.copy(initial.c, to: BufferView(cs), count: B * H)
        } else {
            try be.fill(BufferView(hs), count: B * R, value: 0)
            try be.fill(BufferView(cs), count: B * H, value: 0)
        }
        // Projection: the cell writes m_t into ms (ms[0] is only carried into padding, but must be finite).
        let ms = P > 0 ? try scratch("ms\(index)", (T + 1) * B * H) : nil
        if let ms { try be.fill(BufferView(ms), count: B * H, value: 0) }
        // Recurrent dropout: one mask per sequence [B, R]; hm = h * mask feeds the recurrent gemm.
        var mask: DeviceBuffer? = nil, hm: DeviceBuffer? = nil
        if training, recurrentDropout > 0 {
            let seed = UInt32(truncatingIfNeeded: dropoutGenerator.next())
            let ones = try scratch("ones", B * R)
            try be.fill(BufferView(ones), count: B * R, value: 1)
            mask = try scratch("rmask\(index)", B * R)
            try be.dropout(count: B * R, p: recurrentDropout, seed: seed, x: BufferView(ones), y: BufferView(mask!))
            hm = try scratch("hm\(index)", (T + 1) * B * R)
            try device.training.mul(count: B * R, x: BufferView(hs), y: BufferView(mask!), out: BufferView(hm!))
        }
        let r = layerNorm ? try scratch("r\(index)", T * B * G) : try scratch("r", B * G)
        let stats = layerNorm ? try scratch("stats\(index)", T * B * 4) : nil
        let recurrentInput = hm ?? hs
        // The cell writes h (or m, with a projection) and, when the projection does not, y and hm.
        let cellExtras = LSTMCellExtras(cellClip: cellClip ?? 0, peephole: w.peephole,
                                        recurrentMask: P > 0 ? nil : mask.map { BufferView($0) },
                                        maskedStates: P > 0 ? nil : hm.map { BufferView($0) }, writeOutput: P == 0)
        let cellH = ms ?? hs
        let lnParams = w.layerNormCell
        // Small batches on a GPU: the whole recurrence in one persistent kernel (plain cell and clipping only).
        let persistent = device.persistent
        if w.peephole == nil, lnParams == nil, P == 0, mask == nil, persistent.usePersistentForward(batch: B, hidden: H) {
            try persistent.lstmSequenceForward(batch: B, hidden: H, steps: T, reverse: d == 1, lengths: lengths, gx: BufferView(gx),
                                               whh: w.whh, biasIH: w.bih, biasHH: w.bhh, hs: BufferView(hs), cs: BufferView(cs),
                                               gates: BufferView(gates), y: y, ldy: ldy, cellClip: cellClip ?? 0)
            return DirectionTape(hs: hs, cs: cs, gates: gates, ms: nil, mask: nil, hm: nil, r: nil, stats: nil, gx: nil, statsIH: nil)
        }
        // The per-step products' weights, prepared once: op(B) = W_hh^T [R, 4H] and W_hr^T [H, P].
        let whhStep = try StepOperand(be, b: w.whh, transB: true, k: R, n: G, ldb: R) { try scratch("whhStep\(index)", $0) }
        let whrStep = try w.whr.map { whr in
            try StepOperand(be, b: whr, transB: true, k: H, n: P, ldb: H) { try scratch("whrStep\(index)", $0) }
        }
        for s in 0..<T {
            // Recurrent product for all four gates at once: r[B, 4H] = h_{s-1} . W_hh^T.
            let rs = BufferView(r, layerNorm ? s * B * G : 0)
            try whhStep.gemm(be, m: B, a: BufferView(recurrentInput, s * B * R), lda: R, beta: 0, c: rs, ldc: G)
            if let lnParams {
                try device.variants.lstmLayerNormCellForward(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: lengths,
                                                             gxn: BufferView(gxn), r: BufferView(r), params: lnParams,
                                                             hs: BufferView(cellH), cs: BufferView(cs), gates: BufferView(gates),
                                                             stats: BufferView(stats!), y: y, ldy: ldy, extras: cellExtras)
            } else {
                try be.lstmCellForward(batch: B, hidden: H, steps: T, step: s, reverse: d == 1, lengths: lengths,
                                       gx: BufferView(gx), r: BufferView(r), biasIH: w.bih, biasHH: w.bhh,
                                       hs: BufferView(cellH), cs: BufferView(cs), gates: BufferView(gates),
                                       y: y, ldy: ldy, extras: cellExtras)
            }
            if let ms, let whrStep {
                // h_s = m_s . W_hr^T for every row, then padding carries h and the output is written.
                try whrStep.gemm(be, m: B, a: BufferView(ms, (s + 1) * B * H), lda: H, beta: 0, c: BufferView(hs, (s + 1) * B * P), ldc: P)
                try device.variants.lstmProjectionForward(batch: B, proj: P, steps: T, step: s, reverse: d == 1, lengths: lengths,
                                                          hs: BufferView(hs), y: y, ldy: ldy, recurrentMask: mask.map { BufferView($0) },
                                                          maskedStates: hm.map { BufferView($0) })
            }
        }
        return DirectionTape(hs: hs, cs: cs, gates: gates, ms: ms, mask: mask, hm: hm, r: layerNorm ? r : nil, stats: stats,
                             gx: layerNorm ? gx : nil, statsIH: statsIH)
    }

    // MARK: Backward

    /// Backpropagation through time for the last `forward`. Takes the gradients of the loss w.r.t. `output`,
    /// `h_n` and `c_n` (nil means zero), adds the parameter gradients into `gradients` (they accumulate until
    /// `zeroGrad()`, as in PyTorch) and returns the gradients w.r.t. the input, h0 and c0.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil, gradC: Tensor? = nil)
        throws -> (input: Tensor, h0: Tensor, c0: Tensor) {
        let g = try backward(gradOutput: gradOutput, gradH: gradH, gradC: gradC, inputGradient: true)
        return (g.input!, g.h0, g.c0)
    }

    /// `backward(gradOutput:gradH:gradC:)`, and with `inputGradient: false` the gradient w.r.t. the input is
    /// not computed (nil): the input is data, as a PyTorch input without `requires_grad`. That skips the
    /// first layer's dX gemm, [T*B, 4H] x [4H, inputSize] per direction (a sixth of a training step when
    /// inputSize = hiddenSize). `Sequential` passes false to its first layer with parameters.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil, gradC: Tensor? = nil, inputGradient: Bool)
        throws -> (input: Tensor?, h0: Tensor, c0: Tensor) {
        guard let tape else { throw LSTMKitError.noForwardPass }
        let T = tape.steps, B = tape.batch
        let be = device.backend
        let D = numDirections, H = hiddenSize, R = outputSize, L = numLayers
        if let g = gradOutput {
            try checks.device(g, "gradOutput")
            let expected = batchFirst ? [B, T, D * R] : [T, B, D * R]
            guard g.shape == expected else { throw LSTMKitError.shapeMismatch(what: "gradOutput", expected: "\(expected)", got: g.shape) }
        }
        if let g = gradH { try checks.state(g, "gradH", batch: B, width: R) }
        if let g = gradC { try checks.state(g, "gradC", batch: B) }

        // dy: gradient w.r.t. this layer's output, time-major [T, B, D*R].
        var dy: BufferView
        if let g = gradOutput {
            if batchFirst {
                let t = try scratch("dyt", T * B * D * R)
                try be.transpose01(d0: B, d1: T, features: D * R, src: g.view, dst: BufferView(t))
                dy = BufferView(t)
            } else {
                dy = g.view
            }
        } else {
            let z = try scratch("dyzero", T * B * D * R)
            try be.fill(BufferView(z), count: T * B * D * R, value: 0)
            dy = BufferView(z)
        }
        let dh0 = try be.allocate(L * D * B * R), dc0 = try be.allocate(L * D * B * H)
        var dx: DeviceBuffer? = nil
        for l in (0..<L).reversed() {
            let inSize = weights[l][0].inputSize
            let wanted = l > 0 || inputGradient
            dx = !wanted ? nil : l == 0 && !batchFirst ? try be.allocate(T * B * inSize) : try scratch("dx\(l)", T * B * inSize)
            for d in 0..<D {
                let index = l * D + d
                try backwardDirection(layer: l, direction: d, tape: tape, dy: dy.advanced(by: d * R),
                                      gradH: gradH?.view.advanced(by: index * B * R), gradC: gradC?.view.advanced(by: index * B * H),
                                      dh0: BufferView(dh0, index * B * R), dc0: BufferView(dc0, index * B * H),
                                      dx: dx.map { BufferView($0) }, accumulate: d == 1)
            }
            if let seed = tape.dropoutSeeds[l], let dropped = dx {
                let undropped = try scratch("undropped\(l)", T * B * inSize)
                try be.dropout(count: T * B * inSize, p: dropout, seed: seed, x: BufferView(dropped), y: BufferView(undropped))
                dx = undropped
            }
            if let dx { dy = BufferView(dx) }
        }
        self.tape = nil
        return (try dx.map { try outputFromTimeMajor(BufferView($0), steps: T, batch: B, features: inputSize) },
                Tensor(shape: [L * D, B, R], view: BufferView(dh0), device: device),
                Tensor(shape: [L * D, B, H], view: BufferView(dc0), device: device))
    }

    /// BPTT of one layer and direction: the time loop, then the weight gradients over all steps and dX
    /// (written into dx, or added to it when `accumulate`; nil: not wanted). dy: this direction's columns, [T, B, ldy = D*R].
    private func backwardDirection(layer l: Int, direction d: Int, tape: Tape, dy: BufferView, gradH: BufferView?, gradC: BufferView?,
                                   dh0: BufferView, dc0: BufferView, dx: BufferView?, accumulate: Bool) throws {
        let be = device.backend, w = weights[l][d], t = tape.directions[l][d]
        let T = tape.steps, B = tape.batch, H = hiddenSize, G = 4 * H, R = outputSize, P = projSize
        let inSize = w.inputSize, x = tape.layerInputs[l], reverse = d == 1, ldy = numDirections * R
        let dh = try scratch("dh", B * R), dc = try scratch("dc", B * H)
        if let gradH { try be.copy(gradH, to: BufferView(dh), count: B * R) } else { try be.fill(BufferView(dh), count: B * R, value: 0) }
        if let gradC { try be.copy(gradC, to: BufferView(dc), count: B * H) } else { try be.fill(BufferView(dc), count: B * H, value: 0) }
        // dgs: the gradient w.r.t. the recurrent gemm's output by step (dW_hh, dh); daStep / daTime: w.r.t. the gate
        // pre-activations by step / by time. Without layer norm all three are one, except daTime when reverse.
        let dgs = try scratch("dgs", T * B * G)
        let daStep = layerNorm ? try scratch("das", T * B * G) : dgs
        let daTime = reverse ? try scratch("dat", T * B * G) : daStep
        let dcn = layerNorm ? try scratch("dcn", T * B * H) : nil
        let mask = t.mask.map { BufferView($0) }
        // Projection: the cell sees dm = dhs[s] . W_hr and no dy of its own.
        let dhs = P > 0 ? try scratch("dhs", T * B * P) : nil, dm = P > 0 ? try scratch("dm", B * H) : nil
        let zeros = P > 0 ? try scratch("zerosH", H) : nil
        if let zeros { try be.fill(BufferView(zeros), count: H, value: 0) }
        let extras = LSTMCellExtras(cellClip: cellClip ?? 0, peephole: w.peephole, recurrentMask: P > 0 ? nil : mask)
        let lnParams = w.layerNormCell
        // The per-step products' weights, prepared once: op(B) = W_hh [4H, R] and W_hr [P, H].
        let index = l * numDirections + d
        let whhStep = try StepOperand(be, b: w.whh, transB: false, k: G, n: R, ldb: R) { try scratch("whhStep\(index)", $0) }
        let whrStep = try w.whr.map { whr in try StepOperand(be, b: whr, transB: false, k: P, n: H, ldb: H) { try scratch("whrStep\(index)", $0) } }
        for s in (0..<T).reversed() {
            var cellDH = BufferView(dh), cellDY = dy, cellLDY = ldy
            if let dhs, let dm, let zeros, let whrStep {
                try device.variants.lstmProjectionBackward(batch: B, proj: P, steps: T, step: s, reverse: reverse, lengths: tape.lengths,
                                                           dy: dy, lddy: ldy, dh: BufferView(dh), dhs: BufferView(dhs), recurrentMask: mask)
                try whrStep.gemm(be, m: B, a: BufferView(dhs, s * B * P), lda: P, beta: 0, c: BufferView(dm), ldc: H)
                (cellDH, cellDY, cellLDY) = (BufferView(dm), BufferView(zeros), 0)
            }
            if let lnParams {
                try device.variants.lstmLayerNormCellBackward(batch: B, hidden: H, steps: T, step: s, reverse: reverse, lengths: tape.lengths,
                                                              params: lnParams, gates: BufferView(t.gates), cs: BufferView(t.cs),
                                                              r: BufferView(t.r!), stats: BufferView(t.stats!), dy: cellDY, lddy: cellLDY,
                                                              dh: cellDH, dc: BufferView(dc), dgs: BufferView(dgs), dAs: BufferView(daStep),
                                                              dAt: BufferView(daTime), dcn: BufferView(dcn!), extras: extras)
            } else {
                try be.lstmCellBackward(batch: B, hidden: H, steps: T, step: s, reverse: reverse, lengths: tape.lengths,
                                        gates: BufferView(t.gates), cs: BufferView(t.cs), dy: cellDY, lddy: cellLDY,
                                        dh: cellDH, dc: BufferView(dc), dgs: BufferView(dgs), dgt: BufferView(daTime), extras: extras)
            }
            // dh_{s-1} += dG[s] . W_hh
            try whhStep.gemm(be, m: B, a: BufferView(dgs, s * B * G), lda: G, beta: 1, c: BufferView(dh), ldc: R)
        }
        // h0 fed the first recurrent gemm through the mask (every sequence is valid at step 0).
        if let mask { try device.training.mul(count: B * R, x: BufferView(dh), y: mask, out: dh0) }
        else { try be.copy(BufferView(dh), to: dh0, count: B * R) }
        try be.copy(BufferView(dc), to: dc0, count: B * H)

        // Weight gradients over all steps at once.
        var dgx = daTime  // the gradient w.r.t. the raw input projection, by time
        if let ln = w.layerNorm, let gln = w.glayerNorm, let gx = t.gx, let statsIH = t.statsIH, let dcn {
            let v = device.variants
            try v.layerNormParamGrad(rows: T * B, n: G, dy: BufferView(daStep), x: BufferView(t.r!), stats: BufferView(t.stats!),
                                     statsStride: 4, statsOffset: 0, dWeight: gln.hhWeight, dBias: gln.hhBias)
            try v.layerNormParamGrad(rows: T * B, n: H, dy: BufferView(dcn), x: BufferView(t.cs, B * H), stats: BufferView(t.stats!),
                                     statsStride: 4, statsOffset: 2, dWeight: gln.cWeight, dBias: gln.cBias)
            try v.layerNormParamGrad(rows: T * B, n: G, dy: BufferView(daTime), x: BufferView(gx), stats: BufferView(statsIH),
                                     statsStride: 2, statsOffset: 0, dWeight: gln.ihWeight, dBias: gln.ihBias)
            dgx = try scratch("dgx", T * B * G)
            try v.layerNormBackward(rows: T * B, n: G, dy: BufferView(daTime), x: BufferView(gx), stats: BufferView(statsIH),
                                    weight: ln.ihWeight, dx: BufferView(dgx))
        }
        try be.gemm(transA: true, transB: false, m: G, n: inSize, k: T * B, alpha: 1,
                    a: BufferView(dgx), lda: G, b: x, ldb: inSize, beta: 1, c: w.gwih, ldc: inSize)
        try be.gemm(transA: true, transB: false, m: G, n: R, k: T * B, alpha: 1,
                    a: BufferView(dgs), lda: G, b: BufferView(t.recurrentInput), ldb: R, beta: 1, c: w.gwhh, ldc: R)
        if let gbih = w.gbih, let gbhh = w.gbhh {
            // Both bias gradients get the same column sums of dA: one pass over dA, then two adds
            // (a one-row column sum is out += row).
            let db = try scratch("db", G)
            try be.columnSum(m: T * B, n: G, x: BufferView(daStep), ld: G, beta: 0, out: BufferView(db))
            try be.columnSum(m: 1, n: G, x: BufferView(db), ld: G, beta: 1, out: gbih)
            try be.columnSum(m: 1, n: G, x: BufferView(db), ld: G, beta: 1, out: gbhh)
        }
        if let gp = w.gpeephole {
            try device.variants.lstmPeepholeGrad(rows: T * B, batch: B, hidden: H, dgs: BufferView(daStep), cs: BufferView(t.cs), dpeep: gp)
        }
        if let dhs, let ms = t.ms, let gwhr = w.gwhr {
            // dW_hr += dhs^T . m over all steps.
            try be.gemm(transA: true, transB: false, m: P, n: H, k: T * B, alpha: 1, a: BufferView(dhs), lda: P,
                        b: BufferView(ms, B * H), ldb: H, beta: 1, c: gwhr, ldc: H)
        }
        // dx = dG . W_ih (the second direction adds to the first).
        guard let dx else { return }
        try be.gemm(transA: false, transB: false, m: T * B, n: inSize, k: G, alpha: 1,
                    a: BufferView(dgx), lda: G, b: w.wih, ldb: inSize, beta: accumulate ? 1 : 0, c: dx, ldc: inSize)
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
