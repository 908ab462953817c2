/// What `LSTM` and `GRU` share, as PyTorch's `nn.RNNBase`: the sizes and options, the parameters and the engine,
/// `RecurrentDriver` (one training step, file by file) with the subclass's cell (`LSTMCellSteps`, `GRUCellSteps`).
/// The parameters are named as PyTorch's `state_dict` (see `RecurrentParameters`); they live in one flat buffer
/// (`flatParameters`), their gradients in another.
public class RNNBase {
    public let inputSize: Int, hiddenSize: Int, numLayers: Int
    public let bias: Bool, batchFirst: Bool, bidirectional: Bool
    /// Dropout probability on the outputs of every layer but the last, in training mode only.
    public let dropout: Double
    /// Keras's `activation` (LSTM: g and the cell output; GRU: n; tanh: PyTorch's) and `recurrent_activation` (the
    /// other gates; sigmoid: PyTorch's).
    public let activation: Activation, recurrentActivation: Activation
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
    /// The layer and direction loops, the tape and the gemms; the cell supplies the steps.
    let engine: any RecurrentEngine

    /// PyTorch's initialisation (see `RecurrentParameters`) from a generator seeded with `seed`; the subclass checks the arguments.
    init<Cell: RecurrentCellSteps>(cell: Cell, inputSize: Int, hiddenSize: Int, numLayers: Int, bias: Bool, batchFirst: Bool,
                                   dropout: Double, bidirectional: Bool, projSize: Int = 0, peephole: Bool = false, layerNorm: Bool = false,
                                   activation: Activation, recurrentActivation: Activation, device: Device, seed: UInt64) throws {
        (self.inputSize, self.hiddenSize, self.numLayers, self.bias, self.batchFirst) = (inputSize, hiddenSize, numLayers, bias, batchFirst)
        (self.dropout, self.bidirectional, self.device) = (dropout, bidirectional, device)
        (self.activation, self.recurrentActivation) = (activation, recurrentActivation)
        let layout = try RecurrentParameters(gates: cell.gateCount, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                             directions: bidirectional ? 2 : 1, bias: bias, projSize: projSize,
                                             peephole: peephole, layerNorm: layerNorm, device: device, seed: seed)
        (parameterNames, parameters, gradients) = (layout.names, layout.parameters, layout.gradients)
        (flatParameters, flatGradients) = (layout.flatParameters, layout.flatGradients)
        engine = RecurrentDriver(cell: cell, device: device, batchFirst: batchFirst, dropout: dropout, weights: layout.weights, seed: seed)
    }

    /// Restarts the dropout mask sequence (tests use it to repeat a training-mode forward exactly).
    func resetDropoutGenerator(seed: UInt64) { engine.workspace.resetGenerator(seed: seed) }
}
