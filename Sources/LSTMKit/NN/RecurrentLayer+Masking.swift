/// What `RecurrentLayer.backward` needs from the masking, `goBackwards` and input dropout of the last forward.
/// B = batch, T = time, F = input features.
struct RecurrentMaskTape {
    let batch: Int, steps: Int, features: Int
    /// Valid steps per sequence (nil: all T).
    let lengths: [Int]?
    /// First valid step per sequence in the order the core reads (after `goBackwards`); nil: all 0.
    let starts: [Int]?
    /// The dropout mask `[B*T, F]` the input was multiplied by (training with `dropout` only).
    let dropoutMask: Tensor?
}

/// Masks, `goBackwards` and input dropout around the core. Every step moves whole `[F]` rows with the device's
/// row gather (`gatherRows`), so a left-padded batch runs as one batch (no loop over sequences).
extension RecurrentLayer {
    /// Gathers rows: row r of the result is row `map[r]` of `src` (`[rows, rowSize]`), or zeros where `map[r]` is nil.
    private func gatherRows(_ src: Tensor, rows: Int, rowSize: Int, map: [Int?], shape: [Int]) throws -> Tensor {
        let device = src.device, be = device.training
        var source = src.view.buffer
        let needsZero = map.contains { $0 == nil }
        if src.view.offset != 0 || needsZero {
            let b = try be.allocate((rows + (needsZero ? 1 : 0)) * rowSize)
            try be.copy(src.view, to: BufferView(b), count: rows * rowSize)
            if needsZero { try be.fill(BufferView(b, rows * rowSize), count: rowSize, value: 0) }
            source = b
        }
        let idx = try be.allocateIndices(map.map { Int32($0 ?? rows) })
        let out = try be.allocate(map.count * rowSize)
        try be.gatherRows(count: map.count, rowSize: rowSize, indices: idx, src: source, dst: out)
        return Tensor(shape: shape, view: BufferView(out), device: device)
    }

    /// The input as the core reads it: reversed (`goBackwards`), times the dropout mask (training), and rotated so
    /// that every sequence starts at step 0.
    func prepareInput(_ x: MaskedTensor, training: Bool) throws -> (Tensor, RecurrentMaskTape) {
        var t = x.tensor
        guard t.shape.count == 3 else {
            throw LSTMKitError.shapeMismatch(what: "\(cell) input", expected: "[batch, T, features]", got: t.shape)
        }
        let (B, T, F) = (t.shape[0], t.shape[1], t.shape[2])
        var starts = x.starts
        if let s = starts, s.count != B {
            throw LSTMKitError.shapeMismatch(what: "\(cell) mask starts", expected: "\(B) values", got: [s.count])
        }
        if let lengths = x.lengths {
            guard lengths.count == B else { throw LSTMKitError.shapeMismatch(what: "\(cell) mask lengths", expected: "\(B) values", got: [lengths.count]) }
            for b in 0..<B where !(lengths[b] >= 1 && (starts?[b] ?? 0) >= 0 && (starts?[b] ?? 0) + lengths[b] <= T) {
                throw LSTMKitError.invalidLength(index: b, length: lengths[b], maxLength: T - (starts?[b] ?? 0))
            }
        }
        if goBackwards {
            t = try gatherRows(t, rows: B * T, rowSize: F, map: (0..<(B * T)).map { r in (r / T) * T + (T - 1 - r % T) }, shape: t.shape)
            if let lengths = x.lengths { starts = (0..<B).map { T - (starts?[$0] ?? 0) - lengths[$0] } }
        }
        if starts?.allSatisfy({ $0 == 0 }) ?? false { starts = nil }
        var mask: Tensor? = nil
        if training, dropout > 0 {
            let device = t.device, be = device.training
            let ones = try be.allocate(B * F), m = try be.allocate(B * F)
            try be.fill(BufferView(ones), count: B * F, value: 1)
            try be.dropout(count: B * F, p: dropout, seed: UInt32(truncatingIfNeeded: dropoutGenerator.next()), x: BufferView(ones), y: BufferView(m))
            let steps = try gatherRows(Tensor(shape: [B, F], view: BufferView(m), device: device), rows: B, rowSize: F,
                                       map: (0..<(B * T)).map { $0 / T }, shape: t.shape)
            let y = try be.allocate(B * T * F)
            try be.mul(count: B * T * F, x: t.view, y: steps.view, out: BufferView(y))
            t = Tensor(shape: t.shape, view: BufferView(y), device: device)
            mask = steps
        }
        if let s = starts {
            // Row (b, j) of the aligned input is row (b, j + s_b) of the input; the tail is padding (zeros).
            let lengths = x.lengths!
            t = try gatherRows(t, rows: B * T, rowSize: F, map: (0..<(B * T)).map { r in
                let (b, j) = (r / T, r % T)
                return j < lengths[b] ? b * T + j + s[b] : nil
            }, shape: t.shape)
        }
        return (t, RecurrentMaskTape(batch: B, steps: T, features: F, lengths: x.lengths, starts: starts, dropoutMask: mask))
    }

    /// dLoss/dInput of `prepareInput`: the core's input gradient rotated back, times the dropout mask, reversed back.
    func prepareInputBackward(_ dx: Tensor?, _ tape: RecurrentMaskTape?) throws -> Tensor? {
        guard var d = dx, let tape else { return dx }
        let (B, T, F) = (tape.batch, tape.steps, tape.features)
        if let s = tape.starts, let lengths = tape.lengths {
            d = try gatherRows(d, rows: B * T, rowSize: F, map: (0..<(B * T)).map { r in
                let (b, t) = (r / T, r % T)
                return t >= s[b] && t < s[b] + lengths[b] ? b * T + t - s[b] : nil
            }, shape: d.shape)
        }
        if let mask = tape.dropoutMask {
            let y = try d.device.training.allocate(B * T * F)
            try d.device.training.mul(count: B * T * F, x: d.view, y: mask.view, out: BufferView(y))
            d = Tensor(shape: d.shape, view: BufferView(y), device: d.device)
        }
        if goBackwards {
            d = try gatherRows(d, rows: B * T, rowSize: F, map: (0..<(B * T)).map { r in (r / T) * T + (T - 1 - r % T) }, shape: d.shape)
        }
        return d
    }

    /// The core's sequence output `[B, T, D*W]` (sequences starting at step 0) in the input's positions, with 0 at
    /// padded steps (PyTorch's packed-sequence convention, which the ONNX export also gives; Keras repeats the last
    /// valid output after a sequence's last step instead).
    func restoreOutput(_ y: Tensor, _ tape: RecurrentMaskTape) throws -> Tensor {
        guard let lengths = tape.lengths, let s = tape.starts else { return y }
        let (B, T) = (tape.batch, tape.steps), W = y.shape[2]
        return try gatherRows(y, rows: B * T, rowSize: W, map: (0..<(B * T)).map { r in
            let (b, t) = (r / T, r % T)
            return t >= s[b] && t < s[b] + lengths[b] ? b * T + t - s[b] : nil
        }, shape: y.shape)
    }

    /// The gradient of `restoreOutput` w.r.t. the core's output `[B, T, D*W]`.
    func restoreOutputBackward(_ dy: Tensor, _ tape: RecurrentMaskTape?) throws -> Tensor {
        guard let tape, let lengths = tape.lengths, let s = tape.starts else { return dy }
        let (B, T) = (tape.batch, tape.steps), W = dy.shape[2]
        return try gatherRows(dy, rows: B * T, rowSize: W, map: (0..<(B * T)).map { r in
            let (b, j) = (r / T, r % T)
            return j < lengths[b] ? b * T + j + s[b] : nil
        }, shape: dy.shape)
    }
}
