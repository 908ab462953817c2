/// Host-side training data (Keras' numpy arrays): a row-major array whose first dimension is the sample.
/// Token ids and class ids are stored as whole-number floats, as Keras takes them.
public struct DataArray: Sendable, Equatable {
    public let shape: [Int]
    public let values: [Float]

    public init(shape: [Int], values: [Float]) throws {
        guard shape.count >= 1, shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw LSTMKitError.shapeMismatch(what: "DataArray values", expected: "\(shape.reduce(1, *)) values for shape \(shape)", got: [values.count])
        }
        self.shape = shape
        self.values = values
    }
    /// Samples of single values: shape [N].
    public init(_ values: [Float]) { shape = [values.count]; self.values = values }
    /// Samples of vectors: shape [N, F]. Every row must have the same length.
    public init(_ rows: [[Float]]) throws {
        let f = rows.first?.count ?? 0
        if let bad = rows.firstIndex(where: { $0.count != f }) {
            throw LSTMKitError.shapeMismatch(what: "DataArray row \(bad)", expected: "[\(f)] like row 0", got: [rows[bad].count])
        }
        try self.init(shape: [rows.count, f], values: rows.flatMap { $0 })
    }
    /// Samples of sequences of vectors: shape [N, T, F]. Every sequence and vector must have the same length.
    public init(_ rows: [[[Float]]]) throws {
        let t = rows.first?.count ?? 0, f = rows.first?.first?.count ?? 0
        for (i, seq) in rows.enumerated() where seq.count != t || seq.contains(where: { $0.count != f }) {
            throw LSTMKitError.shapeMismatch(what: "DataArray sample \(i)", expected: "[\(t), \(f)] like sample 0", got: [seq.count, seq.first?.count ?? 0])
        }
        try self.init(shape: [rows.count, t, f], values: rows.flatMap { $0.flatMap { $0 } })
    }
    private init(unchecked shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// Number of samples.
    public var count: Int { shape[0] }
    /// Values per sample.
    public var sampleSize: Int { shape.dropFirst().reduce(1, *) }

    /// The samples at `indices`, in that order.
    public func rows(_ indices: [Int]) -> DataArray {
        let n = sampleSize
        var out: [Float] = []
        out.reserveCapacity(indices.count * n)
        for i in indices { out.append(contentsOf: values[(i * n)..<((i + 1) * n)]) }
        return DataArray(unchecked: [indices.count] + shape.dropFirst(), values: out)
    }
    /// The samples in `range`.
    public func rows(_ range: Range<Int>) -> DataArray { rows(Array(range)) }
}
