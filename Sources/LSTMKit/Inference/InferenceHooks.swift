/// Hooks for Benchmarks/lstm-bench's inference modes (`@_spi(Benchmark) import LSTMKit`); not public API.
@_spi(Benchmark) public enum InferenceHooks {
    /// false runs the CPU's LSTM inference step by step (`lstm-bench --predict-ab` times one against the other);
    /// true (the default) lets it run each layer's steps as one job (`CPUBackend.lstmInferSequence`).
    nonisolated(unsafe) public static var sequenceJob = true

    /// The inference path's forward of a core (`predict`'s): the output and final states, no tape. A projection or
    /// layer-norm LSTM runs its training forward with `training = false`.
    public static func forward(_ lstm: LSTM, _ x: Tensor) throws -> Tensor {
        guard LSTMInference.supports(lstm) else {
            lstm.training = false
            return try lstm.forward(x).output
        }
        return try LSTMInference.forward(lstm, x, lengths: nil, lastOnly: false).output!
    }

    /// The batch `Sequential.predict` chooses for `samples` samples of `model` (built) when given no batch size.
    public static func predictBatch(_ model: Sequential, samples: Int) throws -> Int {
        try PredictBatching.choose(samples: samples, model: model).rows
    }
}
