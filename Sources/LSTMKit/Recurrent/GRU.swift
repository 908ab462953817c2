/// A multi-layer, optionally bidirectional GRU with PyTorch `nn.GRU`'s formula, parameters and shapes.
///
/// Shapes (B = batch, T = time steps, I = input size, H = hidden size, L = layers, D = 2 if bidirectional else 1):
/// input `[T, B, I]` (`[B, T, I]` with `batchFirst`), output `[T, B, D*H]`, h0 and h_n `[L*D, B, H]`.
/// Parameters: `weight_ih_l{k}[_reverse]` `[3H, I or D*H]`, `weight_hh_l{k}` `[3H, H]`, `bias_ih_l{k}`,
/// `bias_hh_l{k}` `[3H]`; gate order r, z, n; `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`.
/// The rest is `RNNBase`'s, with `GRUCellSteps`.
public final class GRU: RNNBase, ParameterOwner {
    public var parameterBuffers: [ParameterBuffer] { [ParameterBuffer(parameters: flatParameters, gradients: flatGradients)] }

    /// Creates the layer with PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)) from a generator seeded with `seed`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, activation: Activation = .tanh,
                recurrentActivation: Activation = .sigmoid, device: Device = .cpu, seed: UInt64 = 0) throws {
        try RecurrentInputChecks.activations(activation, recurrentActivation)
        try RecurrentInputChecks.sizes(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout)
        let cell = GRUCellSteps(hiddenSize: hiddenSize, activation: activation.kernelKind, recurrentActivation: recurrentActivation.kernelKind)
        try super.init(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias, batchFirst: batchFirst,
                       dropout: dropout, bidirectional: bidirectional, activation: activation, recurrentActivation: recurrentActivation,
                       device: device, seed: seed)
    }

    /// Runs the layer; `lengths` gives packed-sequence semantics as in `LSTM.forward`.
    /// - Returns: `output` `[T, B, D*H]` (batch-first: `[B, T, D*H]`) and `h_n` `[L*D, B, H]`.
    public func forward(_ input: Tensor, lengths: [Int]? = nil, initialState h0: Tensor? = nil) throws -> (output: Tensor, state: Tensor) {
        let (y, states) = try engine.forward(input, lengths: lengths, initialStates: h0.map { [$0] }, training: training)
        return (y, states[0])
    }

    /// BPTT for the last `forward`: accumulates parameter gradients and returns the gradients w.r.t. the input and h0.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil) throws -> (input: Tensor, h0: Tensor) {
        let g = try backward(gradOutput: gradOutput, gradH: gradH, inputGradient: true)
        return (g.input!, g.h0)
    }

    /// `backward(gradOutput:gradH:)`; with `inputGradient: false` the input gradient is not computed (nil), as
    /// `LSTM.backward(gradOutput:gradH:gradC:inputGradient:)`: the first layer's dX gemm is skipped.
    public func backward(gradOutput: Tensor?, gradH: Tensor? = nil, inputGradient: Bool) throws -> (input: Tensor?, h0: Tensor) {
        let g = try engine.backward(gradOutput: gradOutput, gradStates: [gradH], inputGradient: inputGradient)
        return (g.input, g.states[0])
    }
}
