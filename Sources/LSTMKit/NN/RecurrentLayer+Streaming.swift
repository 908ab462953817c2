/// Streaming for `LSTMLayer` and `GRULayer`: one time step at a time (see `StreamState`). A step gives h_t, as
/// the layer's output at step t with `returnSequences` (a `stateful` layer's carried state is not used).
extension RecurrentLayer {
    /// The state of `batch` independent streams, all zero. The layer must be built.
    public func initialState(batch: Int) throws -> StreamState {
        guard merge == nil else { throw CoreStreamStepper.bidirectional() }
        guard let core else { throw LSTMKitError.invalidArgument(name: "\(cell)", value: "unbuilt", reason: "build the layer before initialState(batch:)") }
        let stepper = try StreamPlanBuilder.stepper(core: core, batch: batch)
        let inputWidth = (core as? LSTM)?.inputSize ?? (core as? GRU)?.inputSize ?? 0
        return try StreamPlan(device: (core as? LSTM)?.device ?? (core as! GRU).device, batch: batch, steppers: [stepper],
                              inputWidth: inputWidth, vocabulary: nil).initialState()
    }
    /// One time step: x [B, features] -> h_t [B, units (or projSize)], updating `state`.
    public func step(_ x: Tensor, state: inout StreamState) throws -> Tensor { try state.plan.step(x, state: &state) }
}

extension Bidirectional {
    /// Always throws: the reverse direction needs the whole sequence, so a bidirectional layer cannot be stepped.
    public func initialState(batch: Int) throws -> StreamState { throw CoreStreamStepper.bidirectional() }
}
