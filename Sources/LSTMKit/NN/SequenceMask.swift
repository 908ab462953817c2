/// The valid steps of each sequence of a padded batch, as Keras's boolean mask `[B, T]` allows when the valid
/// steps of a row are contiguous: sequence b's valid steps are `starts[b] ..< starts[b] + lengths[b]`.
/// Padding may be on the left (Keras's `pad_sequences` default), the right, or both.
struct SequenceMask: Equatable {
    var lengths: [Int]
    /// nil when every sequence starts at step 0 (right padding only).
    var starts: [Int]?

    /// The mask of `rows` x `steps` values, `valid(r * steps + t)` telling whether step t of row r is data.
    /// A row with padding between two valid steps, or with no valid step, is an error naming the row and step.
    init(rows: Int, steps: Int, what: String, valid: (Int) -> Bool) throws {
        var lengths = [Int](repeating: 0, count: rows), starts = [Int](repeating: 0, count: rows)
        for r in 0..<rows {
            var t = 0
            while t < steps && !valid(r * steps + t) { t += 1 }
            let start = t
            while t < steps && valid(r * steps + t) { t += 1 }
            let end = t
            while t < steps && !valid(r * steps + t) { t += 1 }
            if t < steps {
                throw LSTMKitError.invalidArgument(name: "\(what) of sample \(r)", value: "data at step \(t) after padding at step \(end)",
                                                   reason: "padding must be on the left or the right of a sequence, not inside it")
            }
            if end == start { throw LSTMKitError.invalidLength(index: r, length: 0, maxLength: steps) }
            lengths[r] = end - start
            starts[r] = start
        }
        self.lengths = lengths
        self.starts = starts.allSatisfy { $0 == 0 } ? nil : starts
    }
}
