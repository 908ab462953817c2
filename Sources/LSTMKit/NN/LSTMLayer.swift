/// The LSTM variants a Keras-style `LSTMLayer` can run (see `LSTM` for the equations). Invalid values are
/// reported as typed errors when the layer is built.
public struct LSTMOptions: Equatable, Sendable {
    /// PyTorch's `proj_size`: 0 (off) or P < units; the layer's output and h then have P columns.
    public var projSize = 0
    /// Peephole connections.
    public var peephole = false
    /// Layer-normalised gates and cell (Ba et al. 2016).
    public var layerNorm = false
    /// Cell clipping to [-cellClip, cellClip] (cuDNN); nil: off.
    public var cellClip: Double? = nil
    /// Keras `recurrent_dropout`: dropout on h_{t-1}, one mask per sequence, in training only.
    public var recurrentDropout = 0.0
    public init(projSize: Int = 0, peephole: Bool = false, layerNorm: Bool = false, cellClip: Double? = nil, recurrentDropout: Double = 0) {
        self.projSize = projSize; self.peephole = peephole; self.layerNorm = layerNorm
        self.cellClip = cellClip; self.recurrentDropout = recurrentDropout
    }
}

/// Keras `LSTM`: a recurrent layer over the `LSTM` core (see `RecurrentLayer`).
public final class LSTMLayer: RecurrentLayer {
    /// - Parameters:
    ///   - recurrentDropout: Keras' `recurrent_dropout` (one mask per sequence on h_{t-1}, training only).
    ///   - cellClip: > 0 clamps the cell state to [-cellClip, cellClip] (cuDNN's cell clipping); nil: off.
    ///   - projSize: PyTorch's `proj_size` (the output has projSize columns); 0: off.
    ///   - peephole: peephole connections; layerNorm: layer-normalised gates and cell.
    ///   - activation, recurrentActivation: Keras's `activation` (g and the cell output) and `recurrent_activation`
    ///     (i, f, o): tanh, sigmoid, relu, hardSigmoid or linear (layer norm: the defaults only).
    ///   - kernelInitializer, recurrentInitializer, biasInitializer, unitForgetBias: Keras's initialisation
    ///     (defaults glorot_uniform, orthogonal, zeros, true; see `RecurrentInitializers`).
    ///   - goBackwards: Keras's `go_backwards`; dropout: Keras's `dropout` on the inputs, in [0, 1).
    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                recurrentDropout: Double = 0, cellClip: Double? = nil, projSize: Int = 0, peephole: Bool = false,
                layerNorm: Bool = false, activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid,
                kernelInitializer: Initializer = .glorotUniform,
                recurrentInitializer: Initializer = .orthogonal(), biasInitializer: Initializer = .zeros, unitForgetBias: Bool = true,
                goBackwards: Bool = false, dropout: Double = 0) {
        super.init(cell: .lstm, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful,
                   options: LSTMOptions(projSize: projSize, peephole: peephole, layerNorm: layerNorm, cellClip: cellClip,
                                        recurrentDropout: recurrentDropout), activation: activation,
                   recurrentActivation: recurrentActivation, merge: nil,
                   initializers: RecurrentInitializers(kernel: kernelInitializer, recurrent: recurrentInitializer, bias: biasInitializer,
                                                       unitForgetBias: unitForgetBias),
                   goBackwards: goBackwards, dropout: dropout)
    }
    /// The final (h, c) of the last forward, each `[B, units]`.
    public var lastState: (h: Tensor, c: Tensor)? { lastStates.count == 2 ? (lastStates[0], lastStates[1]) : nil }
}
