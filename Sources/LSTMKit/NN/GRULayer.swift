/// Keras `GRU` (with PyTorch's `nn.GRU` formula, reset gate after the recurrent product): a recurrent layer
/// over the `GRU` core (see `RecurrentLayer`).
public final class GRULayer: RecurrentLayer {
    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false) {
        super.init(cell: .gru, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful, merge: nil)
    }
}
