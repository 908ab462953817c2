/// A multi-layer, optionally bidirectional LSTM with PyTorch `nn.LSTM`'s parameters, shapes and numbers, and
/// the variants PyTorch lacks: peepholes, layer norm, cell clipping and recurrent dropout (all fused, both devices;
/// each documented at its property).
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
/// `RecurrentParameters`). The rest is `RNNBase`'s, with `LSTMCellSteps`.
public final class LSTM: RNNBase {
    /// PyTorch's `proj_size`: 0 (off) or the size P < H of the projected hidden state h_t = W_hr (o * tanh(c_t)).
    public let projSize: Int
    /// Peephole connections: i and f see c_{t-1}, o sees c_t, through diagonal weights (ONNX's P).
    public let peephole: Bool
    /// Layer normalisation (Ba et al. 2016): a = LN_ih(W_ih x) + LN_hh(W_hh h) + b, h_t = o * tanh(LN_c(c_t)).
    public let layerNorm: Bool
    /// Cell clipping (as cuDNN): c_t is clamped to [-cellClip, cellClip] in the fused cell kernel; nil: off.
    public let cellClip: Double?
    /// Recurrent dropout probability (Keras, Gal & Ghahramani), in training mode only: h_{t-1} is multiplied by a mask
    /// drawn once per sequence (and layer and direction) before the recurrent product.
    public let recurrentDropout: Double
    /// The width of h: `projSize` if > 0, else `hiddenSize`.
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }

    /// Creates the layer with PyTorch's initialisation, U(-1/sqrt(H), 1/sqrt(H)) for every parameter (layer-norm
    /// weights 1 and biases 0), drawn from a generator seeded with `seed` (the distribution is PyTorch's; the
    /// values are not).
    /// The variants are as their properties (`projSize` in 0..<hiddenSize, `cellClip` > 0, `recurrentDropout` in [0, 1)); the
    /// activations are tanh, sigmoid, relu, hardSigmoid or linear (with layer norm, tanh and sigmoid only: `invalidArgument`).
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, projSize: Int = 0, peephole: Bool = false,
                layerNorm: Bool = false, cellClip: Double? = nil, recurrentDropout: Double = 0,
                activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, device: Device = .cpu,
                seed: UInt64 = 0) throws {
        try RecurrentInputChecks.lstm(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout, projSize: projSize,
                                      layerNorm: layerNorm, cellClip: cellClip, recurrentDropout: recurrentDropout,
                                      activation: activation, recurrentActivation: recurrentActivation)
        (self.projSize, self.peephole, self.layerNorm) = (projSize, peephole, layerNorm)
        (self.cellClip, self.recurrentDropout) = (cellClip, recurrentDropout)
        let cell = LSTMCellSteps(hiddenSize: hiddenSize, projSize: projSize, layerNorm: layerNorm, cellClip: cellClip,
                                 recurrentDropout: recurrentDropout, activation: activation.kernelKind,
                                 recurrentActivation: recurrentActivation.kernelKind)
        try super.init(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias, batchFirst: batchFirst,
                       dropout: dropout, bidirectional: bidirectional, projSize: projSize, peephole: peephole, layerNorm: layerNorm,
                       activation: activation, recurrentActivation: recurrentActivation, device: device, seed: seed)
    }

    /// Runs the layer. `lengths` (one per sequence, each in 1...T, padding on the right) gives PyTorch's
    /// packed-sequence semantics: outputs past a length are 0, `h_n`/`c_n` are the state at the last valid step,
    /// and the reverse direction starts at each sequence's own last valid step. `initialState` defaults to zeros.
    /// - Returns: `output` `[T, B, D*R]` (batch-first: `[B, T, D*R]`), `h_n` `[L*D, B, R]` and `c_n` `[L*D, B, H]`.
    public func forward(_ input: Tensor, lengths: [Int]? = nil, initialState: (h: Tensor, c: Tensor)? = nil)
        throws -> (output: Tensor, state: (h: Tensor, c: Tensor)) {
        let (y, states) = try engine.forward(input, lengths: lengths, initialStates: initialState.map { [$0.h, $0.c] }, training: training)
        return (y, (states[0], states[1]))
    }

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
        let g = try engine.backward(gradOutput: gradOutput, gradStates: [gradH, gradC], inputGradient: inputGradient)
        return (g.input, g.states[0], g.states[1])
    }
}
