/// Keras `GRU` (with PyTorch's `nn.GRU` formula, reset gate after the recurrent product): a recurrent layer
/// over the `GRU` core (see `RecurrentLayer`).
public final class GRULayer: RecurrentLayer {
    /// activation (n), recurrentActivation (r, z): Keras's `activation` and `recurrent_activation`.
    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid) {
        super.init(cell: .gru, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful,
                   activation: activation, recurrentActivation: recurrentActivation, merge: nil)
    }
}
