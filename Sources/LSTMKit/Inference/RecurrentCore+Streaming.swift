/// Streaming for the PyTorch-style cores: one time step at a time, with the state kept between calls.
///
///     var state = try lstm.initialState(batch: 4)          // h [L, 4, R], c [L, 4, H] (zeros)
///     for x in frames { let h = try lstm.step(x, state: &state) }   // x [4, inputSize] -> h [4, R]
///
/// The steps give the forward's outputs (within float rounding: the products are summed in another order). One
/// direction only (a bidirectional core throws).
extension LSTM {
    /// The state of `batch` independent streams, all zero (see `StreamState`).
    public func initialState(batch: Int) throws -> StreamState {
        let stepper = try StreamPlanBuilder.stepper(core: self, batch: batch)
        return try StreamPlan(device: device, batch: batch, steppers: [stepper], inputWidth: inputSize, vocabulary: nil).initialState()
    }
    /// One time step: x [B, inputSize] -> h_t [B, R] (the last layer's), updating `state`.
    public func step(_ x: Tensor, state: inout StreamState) throws -> Tensor { try state.plan.step(x, state: &state) }
}

extension GRU {
    /// The state of `batch` independent streams, all zero (see `StreamState`).
    public func initialState(batch: Int) throws -> StreamState {
        let stepper = try StreamPlanBuilder.stepper(core: self, batch: batch)
        return try StreamPlan(device: device, batch: batch, steppers: [stepper], inputWidth: inputSize, vocabulary: nil).initialState()
    }
    /// One time step: x [B, inputSize] -> h_t [B, H] (the last layer's), updating `state`.
    public func step(_ x: Tensor, state: inout StreamState) throws -> Tensor { try state.plan.step(x, state: &state) }
}
