/// Keras `GRU` (with PyTorch's `nn.GRU` formula, reset gate after the recurrent product): a recurrent layer
/// over the `GRU` core (see `RecurrentLayer`).
public final class GRULayer: RecurrentLayer {
    /// - Parameters:
    ///   - activation (n), recurrentActivation (r, z): Keras's `activation` and `recurrent_activation`.
    ///   - kernelInitializer, recurrentInitializer, biasInitializer: Keras's initialisation (defaults glorot_uniform,
    ///     orthogonal, zeros; see `RecurrentInitializers`).
    ///   - goBackwards: Keras's `go_backwards`; dropout: Keras's `dropout` on the inputs, in [0, 1).
    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid,
                kernelInitializer: Initializer = .glorotUniform, recurrentInitializer: Initializer = .orthogonal(),
                biasInitializer: Initializer = .zeros, goBackwards: Bool = false, dropout: Double = 0) {
        super.init(cell: .gru, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful,
                   activation: activation, recurrentActivation: recurrentActivation, merge: nil,
                   initializers: RecurrentInitializers(kernel: kernelInitializer, recurrent: recurrentInitializer, bias: biasInitializer,
                                                       unitForgetBias: false),
                   goBackwards: goBackwards, dropout: dropout)
    }
}
