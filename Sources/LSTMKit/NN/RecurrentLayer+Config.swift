extension RecurrentLayer {
    /// The model.json entry of the layer: an `LSTM` or `GRU` by its cell (also for the layer inside a
    /// `Bidirectional`, which is a plain `RecurrentLayer`).
    var anyLayerConfig: AnyLayerConfig {
        switch cell {
        case .lstm: return AnyLayerConfig(LSTMLayer.self, config: LSTMLayer.Config(self))
        case .gru: return AnyLayerConfig(GRULayer.self, config: GRULayer.Config(self))
        }
    }
}
