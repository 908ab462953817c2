import Foundation

/// A multi-layer, optionally bidirectional GRU with PyTorch `nn.GRU`'s formula, parameters and shapes.
///
/// Shapes (B = batch, T = time steps, I = input size, H = hidden size, L = layers, D = 2 if bidirectional else 1):
/// input `[T, B, I]` (`[B, T, I]` with `batchFirst`), output `[T, B, D*H]`, h0 and h_n `[L*D, B, H]`.
/// Parameters: `weight_ih_l{k}[_reverse]` `[3H, I or D*H]`, `weight_hh_l{k}` `[3H, H]`, `bias_ih_l{k}`,
/// `bias_hh_l{k}` `[3H]`; gate order r, z, n; `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`.
/// The engine is `RecurrentDriver` (one training step, file by file) with `GRUCellSteps`.
public final class GRU: ParameterOwner {
    public let inputSize: Int, hiddenSize: Int, numLayers: Int
    public let bias: Bool, batchFirst: Bool, bidirectional: Bool
    /// Dropout probability on the outputs of every layer but the last, in training mode only.
    public let dropout: Double
    /// Keras's `activation` (n; tanh: PyTorch's) and `recurrent_activation` (r, z; sigmoid: PyTorch's).
    public let activation: Activation, recurrentActivation: Activation
    public let device: Device
    public var training: Bool {
        get { driver.training }
        set { driver.training = newValue }
    }
    public var numDirections: Int { bidirectional ? 2 : 1 }
    public let parameterNames: [String]
    public let parameters: [String: Tensor]
    public let gradients: [String: Tensor]
    public let flatParameters: Tensor
    public let flatGradients: Tensor
    public var parameterBuffers: [ParameterBuffer] { [ParameterBuffer(parameters: flatParameters, gradients: flatGradients)] }

    /// The layer and direction loops, the tape and the gemms; the cell supplies the GRU's steps.
    let driver: RecurrentDriver<GRUCellSteps>

    /// Creates the layer with PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)) from a generator seeded with `seed`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, activation: Activation = .tanh,
                recurrentActivation: Activation = .sigmoid, device: Device = .cpu, seed: UInt64 = 0) throws {
        try RecurrentInputChecks.activations(activation, recurrentActivation)
        try RecurrentInputChecks.sizes(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout)
        self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.numLayers = numLayers
        self.bias = bias; self.batchFirst = batchFirst; self.dropout = dropout; self.bidirectional = bidirectional
        self.device = device
        self.activation = activation; self.recurrentActivation = recurrentActivation
        let D = bidirectional ? 2 : 1
        // The parameters first: they check the sizes (numLayers * D below cannot overflow once they exist).
        let layout = try RecurrentParameters(gates: 3, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                             directions: D, bias: bias, device: device, seed: seed)
        parameterNames = layout.names; parameters = layout.parameters; gradients = layout.gradients
        flatParameters = layout.flatParameters; flatGradients = layout.flatGradients
        let cell = GRUCellSteps(hiddenSize: hiddenSize, activation: activation.kernelKind, recurrentActivation: recurrentActivation.kernelKind)
        driver = RecurrentDriver(cell: cell, device: device, batchFirst: batchFirst, dropout: dropout, weights: layout.weights, seed: seed)
    }

    /// Runs the layer; `lengths` gives packed-sequence semantics as in `LSTM.forward`.
    /// - Returns: `output` `[T, B, D*H]` (batch-first: `[B, T, D*H]`) and `h_n` `[L*D, B, H]`.
    public func forward(_ input: Tensor, lengths: [Int]? = nil, initialState h0: Tensor? = nil) throws -> (output: Tensor, state: Tensor) {
        let (y, states) = try driver.forward(input, lengths: lengths, initialStates: h0.map { [$0] })
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
        let g = try driver.backward(gradOutput: gradOutput, gradStates: [gradH], inputGradient: inputGradient)
        return (g.input, g.states[0])
    }

    /// Restarts the dropout mask sequence (tests use it to repeat a training-mode forward exactly).
    func resetDropoutGenerator(seed: UInt64) { driver.workspace.resetGenerator(seed: seed) }
}
