/// The state of a batch of live streams (`initialState(batch:)`, then `step(_:state:)`), for a `Sequential`, a
/// recurrent layer (`LSTMLayer`, `GRULayer`) or a core (`LSTM`, `GRU`).
///
///     var state = try model.initialState(batch: 1)
///     let y = try model.step(x, state: &state)          // x [B, features] ([B] token ids after an Embedding)
///     let saved = try state.copy()                      // a snapshot; `try state.restore(from: saved)` goes back
///     try state.reset(sequence: 3)                      // stream 3 starts over (zeros); the others go on
///
/// Each row of the batch is one stream; the rows never interact. `tensors[i]` holds layer i's state (none for a
/// layer without one): an LSTM's `h [L*D, B, R]` and `c [L*D, B, H]`, a GRU's `h [L*D, B, H]`, PyTorch's shapes.
/// A plain assignment (`let s = state`) shares the tensors, which the next step overwrites: use `copy()` to keep one.
/// The stream reads the model's weights as they were at `initialState` (prepared once: packed, and for an
/// Embedding before an LSTM, the table of input projections); after changing the weights, start a new state.
public struct StreamState {
    /// The number of streams (rows).
    public let batch: Int
    /// The state tensors of each stepping layer (empty for a layer without state).
    public internal(set) var tensors: [[Tensor]]
    let plan: StreamPlan

    init(batch: Int, tensors: [[Tensor]], plan: StreamPlan) {
        self.batch = batch
        self.tensors = tensors
        self.plan = plan
    }

    /// A deep copy (new buffers), for saving and restoring.
    public func copy() throws -> StreamState {
        let be = plan.device.backend
        let copied = try tensors.map { layer in
            try layer.map { t in
                let b = try be.allocate(t.count)
                try be.copy(t.view, to: BufferView(b), count: t.count)
                return Tensor(shape: t.shape, view: BufferView(b), device: t.device)
            }
        }
        return StreamState(batch: batch, tensors: copied, plan: plan)
    }

    /// Overwrites this state with `saved`'s values (a `copy()` of a state of the same model and batch).
    public mutating func restore(from saved: StreamState) throws {
        guard saved.plan === plan, saved.batch == batch else {
            throw LSTMKitError.invalidArgument(name: "restore(from:)", value: "a state of batch \(saved.batch)",
                                               reason: "must be a copy of a state of this stream (batch \(batch), the same initialState)")
        }
        for (mine, theirs) in zip(tensors, saved.tensors) {
            for (t, s) in zip(mine, theirs) where t !== s { try plan.device.backend.copy(s.view, to: t.view, count: t.count) }
        }
    }

    /// Starts stream `sequence` over: its rows of every state tensor become zero; the other streams are untouched.
    public mutating func reset(sequence: Int) throws {
        guard sequence >= 0, sequence < batch else {
            throw LSTMKitError.invalidArgument(name: "sequence", value: "\(sequence)", reason: "must be in 0..<\(batch) (the batch of this state)")
        }
        for layer in tensors {
            for t in layer {
                let width = t.shape.last!, lead = t.count / (batch * width)
                for k in 0..<lead {
                    try plan.device.backend.fill(t.view.advanced(by: (k * batch + sequence) * width), count: width, value: 0)
                }
            }
        }
    }

    /// Starts every stream over (all state zero).
    public mutating func reset() throws {
        for layer in tensors { for t in layer { try plan.device.backend.fill(t.view, count: t.count, value: 0) } }
    }
}
