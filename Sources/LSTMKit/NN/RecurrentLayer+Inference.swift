/// The inference path of `LSTMLayer` (and `Bidirectional` over it): `LSTMInference`, no tape. A GRU, a projection
/// or layer-norm LSTM, and a `stateful` or `returnState` layer (whose carried or last states this path does not
/// keep), non-default activations, left-padded input and `goBackwards` run the training forward with `training: false`.
extension RecurrentLayer: InferenceLayer {
    func inferenceForward(_ x: MaskedTensor) throws -> MaskedTensor {
        // Left padding (`starts`) and goBackwards reorder the steps first: the training forward does that.
        guard let lstm = core as? LSTM, LSTMInference.supports(lstm), !stateful, !returnState, x.starts == nil, !goBackwards else {
            return try forward(x, training: false)
        }
        return try Self.inferenceForward(lstm, x, returnSequences: returnSequences, merge: merge)
    }

    /// The layer's output from `LSTMInference`: the sequence, or the last valid step ([B, D*H]), merged.
    static func inferenceForward(_ lstm: LSTM, _ x: MaskedTensor, returnSequences: Bool, merge: MergeMode?) throws -> MaskedTensor {
        let device = lstm.device, be = device.training
        let (y, h, _) = try LSTMInference.forward(lstm, x.tensor, lengths: x.lengths, lastOnly: !returnSequences)
        let B = x.tensor.shape[0], W = lstm.hiddenSize, D = lstm.numDirections
        let last = h.view.advanced(by: (lstm.numLayers - 1) * D * B * W)  // the last layer's h_n
        var out: Tensor
        if let y {
            out = y
        } else if D == 1 {
            out = Tensor(shape: [B, W], view: last, device: device)
        } else {
            let b = try be.allocate(B * 2 * W)
            try be.transpose01(d0: 2, d1: B, features: W, src: last, dst: BufferView(b))
            out = Tensor(shape: [B, 2 * W], view: BufferView(b), device: device)
        }
        if let merge, merge != .concat {
            let rows = out.count / (2 * W)
            let b = try be.allocate(rows * W)
            try be.mergeDirections(mode: merge.kernelMode, rows: rows, hidden: W, y: out.view.buffer, out: b)
            out = Tensor(shape: Array(out.shape.dropLast()) + [W], view: BufferView(b), device: device)
        }
        return MaskedTensor(out, lengths: returnSequences ? x.lengths : nil)
    }
}

extension Bidirectional: InferenceLayer {
    func inferenceForward(_ x: MaskedTensor) throws -> MaskedTensor {
        guard let lstm = core as? LSTM, LSTMInference.supports(lstm), !layer.stateful, !layer.returnState, x.starts == nil,
              !layer.goBackwards else {
            return try forward(x, training: false)
        }
        return try RecurrentLayer.inferenceForward(lstm, x, returnSequences: layer.returnSequences, merge: mergeMode)
    }
}
