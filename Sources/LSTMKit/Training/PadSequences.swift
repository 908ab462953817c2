/// Keras' `pad_sequences`: sequences of different lengths into one `[N, maxlen]` `DataArray`.
///
///     let x = try padSequences([[1, 2, 3], [4]], padding: .post)                    // [[1, 2, 3], [4, 0, 0]]
///     let y = try padSequences(tokens, maxlen: 100, padding: .post, truncating: .pre)
///
/// - `maxlen`: the length of every row (default: the longest sequence); longer sequences are cut.
/// - `padding`: pad before (`.pre`, Keras' default) or after (`.post`) the values. `Embedding(maskZero: true)` and the
///   recurrent layers' `lengths` take the padding after the values, so use `.post` with them.
/// - `truncating`: drop values from the start (`.pre`, Keras' default) or the end (`.post`) of a longer sequence.
/// - `value`: the padding value (0).
public func padSequences(_ sequences: [[Float]], maxlen: Int? = nil, padding: PadSide = .pre, truncating: PadSide = .pre,
                         value: Float = 0) throws -> DataArray {
    if let maxlen, maxlen < 0 { throw LSTMKitError.invalidArgument(name: "maxlen", value: "\(maxlen)", reason: "must be >= 0") }
    let length = maxlen ?? sequences.map(\.count).max() ?? 0
    guard let total = Memory.product([sequences.count, length]) else {
        throw LSTMKitError.invalidArgument(name: "maxlen", value: "\(length)", reason: "\(sequences.count) rows of it overflow Int")
    }
    var values: [Float] = []
    values.reserveCapacity(total)
    for s in sequences {
        let kept = s.count <= length ? s[...] : (truncating == .pre ? s.suffix(length) : s.prefix(length))
        let pad = [Float](repeating: value, count: length - kept.count)
        if padding == .pre { values += pad; values += kept } else { values += kept; values += pad }
    }
    return try DataArray(shape: [sequences.count, length], values: values)
}
