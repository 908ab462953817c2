/// Shape operations of `Tensor` for PyTorch-style code: `reshaped` (a view, as `torch.reshape` of a contiguous
/// tensor), `narrow` and `select` (copies, as `x[:, a:b]` and `x[:, i]`) and `lastSteps` (the last valid step of
/// each sequence, as `out[range(B), lengths - 1]`), each with the backward that training needs: the gradient of
/// a slice is scattered into zeros of the input's shape.
///
///     let (out, _) = try lstm.forward(x)                     // [B, T, H], batch first
///     let last = try out.select(axis: 1, index: -1)           // out[:, -1, :] -> [B, H]
///     ...
///     let dOut = try Tensor.selectBackward(dLast, inputShape: out.shape, axis: 1, index: -1)   // [B, T, H]
///
/// Every operation only enqueues work on the tensor's device (one gather or scatter kernel).
extension Tensor {
    /// The same values with another shape (a view: no copy; writes through either are seen by both).
    /// One dimension may be -1; it is inferred. Throws `shapeMismatch` when the element counts differ.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let inferred = newShape.filter { $0 == -1 }.count
        guard inferred <= 1, newShape.allSatisfy({ $0 >= -1 }) else {
            throw LSTMKitError.shapeMismatch(what: "reshape target", expected: "non-negative dimensions and at most one -1", got: newShape)
        }
        var shape = newShape
        if let i = shape.firstIndex(of: -1) {
            let known = shape.filter { $0 != -1 }
            guard let rest = Memory.product(known), rest > 0, count % rest == 0 else {
                throw LSTMKitError.shapeMismatch(what: "reshape of \(self.shape) (\(count) values)", expected: "a shape with \(count) values", got: newShape)
            }
            shape[i] = count / rest
        }
        guard let n = Memory.product(shape), n == count else {
            throw LSTMKitError.shapeMismatch(what: "reshape of \(self.shape) (\(count) values)", expected: "a shape with \(count) values", got: newShape)
        }
        return Tensor(shape: shape, view: view, device: device)
    }

    /// Elements `start..<start + length` along `axis` (`torch.narrow`; `x[:, start:start+length]` for axis 1), a copy
    /// of shape `shape` with `shape[axis] = length`. A negative `axis` counts from the end.
    public func narrow(axis: Int, start: Int, length: Int) throws -> Tensor {
        let (a, outer, d, inner) = try Self.axisSplit(shape, axis: axis, what: "narrow")
        guard start >= 0, length >= 0, start <= d - length else {
            throw LSTMKitError.invalidArgument(name: "narrow start..<start+length", value: "\(start)..<\(start + length)",
                                               reason: "must lie in 0..<\(d), dimension \(a) of \(shape)")
        }
        var out = shape
        out[a] = length
        let rows = (0..<outer).flatMap { o in (0..<length).map { o * d + start + $0 } }
        return try gatherRows(rows, rowSize: inner, shape: out)
    }

    /// Index `index` along `axis`, with that axis removed (`torch.select`; `x[:, -1]` for axis 1, index -1).
    /// Negative `axis` and `index` count from the end.
    public func select(axis: Int, index: Int) throws -> Tensor {
        let (a, _, d, _) = try Self.axisSplit(shape, axis: axis, what: "select")
        let i = index < 0 ? d + index : index
        guard i >= 0, i < d else {
            throw LSTMKitError.invalidArgument(name: "select index", value: "\(index)", reason: "must be in -\(d)..<\(d), dimension \(a) of \(shape)")
        }
        var out = shape
        out.remove(at: a)
        return try narrow(axis: a, start: i, length: 1).reshaped(out)
    }

    /// The output at each sequence's last valid step: `[B, T, F]` (batch first, else `[T, B, F]`) -> `[B, F]`,
    /// row b taken at step `lengths[b] - 1` (what `h_n` holds for a one-layer, one-direction LSTM).
    /// Each length must be in 1...T.
    public func lastSteps(lengths: [Int], batchFirst: Bool = true) throws -> Tensor {
        let (b, t, f) = try Self.sequenceDims(shape, lengths: lengths, batchFirst: batchFirst)
        return try gatherRows(Self.lastStepRows(lengths, b: b, t: t, batchFirst: batchFirst), rowSize: f, shape: [b, f])
    }

    // MARK: Backward

    /// The gradient of `narrow`: `grad` (the narrowed shape) placed into zeros of `inputShape`.
    public static func narrowBackward(_ grad: Tensor, inputShape: [Int], axis: Int, start: Int, length: Int) throws -> Tensor {
        let (a, outer, d, inner) = try axisSplit(inputShape, axis: axis, what: "narrowBackward")
        var expected = inputShape
        guard start >= 0, length >= 0, start <= d - length else {
            throw LSTMKitError.invalidArgument(name: "narrow start..<start+length", value: "\(start)..<\(start + length)",
                                               reason: "must lie in 0..<\(d), dimension \(a) of \(inputShape)")
        }
        expected[a] = length
        guard grad.shape == expected else {
            throw LSTMKitError.shapeMismatch(what: "narrowBackward gradient", expected: "\(expected)", got: grad.shape)
        }
        let rows = (0..<outer).flatMap { o in (0..<length).map { o * d + start + $0 } }
        return try grad.scatterRows(rows, rowSize: inner, shape: inputShape)
    }

    /// The gradient of `select`: `grad` (the input's shape without `axis`) placed into zeros of `inputShape`.
    public static func selectBackward(_ grad: Tensor, inputShape: [Int], axis: Int, index: Int) throws -> Tensor {
        let (a, _, d, _) = try axisSplit(inputShape, axis: axis, what: "selectBackward")
        let i = index < 0 ? d + index : index
        guard i >= 0, i < d else {
            throw LSTMKitError.invalidArgument(name: "select index", value: "\(index)", reason: "must be in -\(d)..<\(d), dimension \(a) of \(inputShape)")
        }
        var kept = inputShape
        kept[a] = 1
        var expected = inputShape
        expected.remove(at: a)
        guard grad.shape == expected else {
            throw LSTMKitError.shapeMismatch(what: "selectBackward gradient", expected: "\(expected)", got: grad.shape)
        }
        return try narrowBackward(grad.reshaped(kept), inputShape: inputShape, axis: a, start: i, length: 1)
    }

    /// The gradient of `lastSteps`: `grad [B, F]` placed at each sequence's last valid step of zeros `[B, T, F]`
    /// (batch first, else `[T, B, F]`).
    public static func lastStepsBackward(_ grad: Tensor, inputShape: [Int], lengths: [Int], batchFirst: Bool = true) throws -> Tensor {
        let (b, t, f) = try sequenceDims(inputShape, lengths: lengths, batchFirst: batchFirst)
        guard grad.shape == [b, f] else {
            throw LSTMKitError.shapeMismatch(what: "lastStepsBackward gradient", expected: "[\(b), \(f)]", got: grad.shape)
        }
        return try grad.scatterRows(lastStepRows(lengths, b: b, t: t, batchFirst: batchFirst), rowSize: f, shape: inputShape)
    }

    // MARK: Helpers

    /// (axis, outer count, the axis' size, inner count) of `shape`; a typed error for a bad axis.
    static func axisSplit(_ shape: [Int], axis: Int, what: String) throws -> (Int, Int, Int, Int) {
        let a = axis < 0 ? shape.count + axis : axis
        guard a >= 0, a < shape.count else {
            throw LSTMKitError.invalidArgument(name: "\(what) axis", value: "\(axis)", reason: "a tensor of shape \(shape) has \(shape.count) axes")
        }
        guard let outer = Memory.product(Array(shape[..<a])), let inner = Memory.product(Array(shape[(a + 1)...])) else {
            throw LSTMKitError.shapeMismatch(what: what, expected: "dimensions whose product fits in Int", got: shape)
        }
        return (a, outer, shape[a], inner)
    }

    static func sequenceDims(_ shape: [Int], lengths: [Int], batchFirst: Bool) throws -> (Int, Int, Int) {
        guard shape.count == 3 else {
            throw LSTMKitError.shapeMismatch(what: "lastSteps input", expected: batchFirst ? "[batch, time, features]" : "[time, batch, features]", got: shape)
        }
        let b = batchFirst ? shape[0] : shape[1], t = batchFirst ? shape[1] : shape[0]
        guard lengths.count == b else {
            throw LSTMKitError.shapeMismatch(what: "lastSteps lengths", expected: "\(b) lengths (one per sequence)", got: [lengths.count])
        }
        if let i = lengths.firstIndex(where: { $0 < 1 || $0 > t }) {
            throw LSTMKitError.invalidLength(index: i, length: lengths[i], maxLength: t)
        }
        return (b, t, shape[2])
    }

    static func lastStepRows(_ lengths: [Int], b: Int, t: Int, batchFirst: Bool) -> [Int] {
        lengths.enumerated().map { i, l in batchFirst ? i * t + l - 1 : (l - 1) * b + i }
    }

    /// A new tensor of `shape` whose row i (of `rowSize` values) is this tensor's row `rows[i]`.
    func gatherRows(_ rows: [Int], rowSize: Int, shape: [Int]) throws -> Tensor {
        let n = rows.count * rowSize
        let dst = try device.backend.allocate(n)
        let be = device.training
        if n > 0 {
            if rowSize <= Int(Int32.max), rows.count <= Int(Int32.max), view.offset == 0, rows.allSatisfy({ $0 <= Int(Int32.max) }) {
                let indices = try be.allocateIndices(rows.map { Int32($0) })
                try be.gatherRows(count: rows.count, rowSize: rowSize, indices: indices, src: view.buffer, dst: dst)
            } else {
                for (i, r) in rows.enumerated() { try be.copy(view.advanced(by: r * rowSize), to: BufferView(dst, i * rowSize), count: rowSize) }
            }
        }
        return Tensor(shape: shape, view: BufferView(dst), device: device)
    }

    /// Zeros of `shape` whose row `rows[i]` (of `rowSize` values) is this tensor's row i. The rows are distinct.
    func scatterRows(_ rows: [Int], rowSize: Int, shape: [Int]) throws -> Tensor {
        let n = try Tensor.checkCount(shape, nil)
        let be = device.training
        let dst = try be.allocateZeros(n)
        if rows.count > 0, rowSize > 0 {
            // embedding_backward adds row i of dOut to row ids[i]: exact for ids (stored as floats) below 2^24.
            if rows.allSatisfy({ $0 < 1 << 24 }), rowSize <= Int(Int32.max), rows.count <= Int(Int32.max), view.offset == 0 {
                let ids = try Tensor(shape: [rows.count], values: rows.map { Float($0) }, device: device)
                try be.embeddingBackward(count: rows.count, dim: rowSize, ids: ids.view, dOut: view.buffer, dTable: BufferView(dst))
            } else {
                for (i, r) in rows.enumerated() { try be.copy(view.advanced(by: i * rowSize), to: BufferView(dst, r * rowSize), count: rowSize) }
            }
        }
        return Tensor(shape: shape, view: BufferView(dst), device: device)
    }
}
