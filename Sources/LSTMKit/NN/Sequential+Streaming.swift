/// Streaming for a `Sequential`: the model one time step at a time, for generation and live data.
///
///     var state = try model.initialState(batch: 1)
///     var probabilities: [Float] = []
///     try model.step([Float(id)], state: &state, output: &probabilities)   // no allocation after the first call
///     let y = try model.step(x, state: &state)                               // device tensors: x [B] ids or [B, F]
///
/// Layers: Embedding (input: token ids [B] as floats), LSTMLayer and GRULayer (one direction; h_t per step),
/// Dense and TimeDistributed(Dense) (on the step's output), Dropout (the identity), nested Sequentials. A step's
/// output equals the forward's output at that step (`returnSequences`), within float rounding. Each of the B rows
/// is an independent stream: its own state, and no effect on the others (`StreamState`).
extension Sequential {
    /// The state of `batch` independent streams, all zero. The model must be built (`build(inputShape:)`, `fit`, ...).
    public func initialState(batch: Int) throws -> StreamState {
        guard let inputShape else {
            throw LSTMKitError.invalidArgument(name: "Sequential", value: "unbuilt", reason: "build the model (build(inputShape:), fit or predict) before initialState(batch:)")
        }
        let first = StreamPlanBuilder.flatten(layers).first
        let embedding = first as? Embedding
        let plan = try StreamPlanBuilder.plan(layers: layers, device: device, batch: batch,
                                              inputWidth: embedding != nil ? 1 : inputShape.last ?? 1, vocabulary: embedding?.inputDim)
        return try plan.initialState()
    }

    /// One time step on device tensors: x [B, features] ([B] or [B, 1] token ids after an Embedding) -> [B, outputs].
    public func step(_ x: Tensor, state: inout StreamState) throws -> Tensor { try state.plan.step(x, state: &state) }

    /// One time step on host values: `input` [B * features] (row-major), the outputs [B * outputs] into `output`
    /// (resized on the first call only, so a loop allocates nothing after it).
    public func step(_ input: [Float], state: inout StreamState, output: inout [Float]) throws {
        try state.plan.step(input, state: &state, output: &output)
    }
}
