/// An n-dimensional array of scalars on one device, row-major. Reading it back (`toArray`) waits for the
/// device; everything else only enqueues work.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first.
    public let shape: [Int]
    public let device: Device
    let view: BufferView

    /// Number of scalars.
    public var count: Int { shape.reduce(1, *) }
    public var description: String { "Tensor(\(shape), \(device))" }

    init(shape: [Int], view: BufferView, device: Device) {
        self.shape = shape
        self.view = view
        self.device = device
    }

    /// A new tensor filled with `values` (row-major; `values.count` must equal the product of `shape`).
    public convenience init(shape: [Int], values: [Float], device: Device = .cpu) throws {
        try Self.checkCount(shape, values.count)
        let buffer = try device.backend.allocate(values.count)
        try device.backend.write(values, to: BufferView(buffer))
        self.init(shape: shape, view: BufferView(buffer), device: device)
    }

    /// A new tensor from Float64 values (stored in the device's precision).
    public convenience init(shape: [Int], doubles: [Double], device: Device = .cpu) throws {
        try Self.checkCount(shape, doubles.count)
        let buffer = try device.backend.allocate(doubles.count)
        try device.backend.write(doubles, to: BufferView(buffer))
        self.init(shape: shape, view: BufferView(buffer), device: device)
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], device: Device = .cpu) throws -> Tensor {
        let n = try checkCount(shape, nil)
        return Tensor(shape: shape, view: BufferView(try device.backend.allocateZeros(n)), device: device)
    }

    /// The element count of `shape`; a typed error for a negative dimension, a product that overflows Int, or
    /// a `count` of values that does not match.
    @discardableResult
    static func checkCount(_ shape: [Int], _ count: Int?) throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw LSTMKitError.shapeMismatch(what: "tensor", expected: "non-negative dimensions", got: shape)
        }
        guard let n = Memory.product(shape) else {
            throw LSTMKitError.shapeMismatch(what: "tensor", expected: "dimensions whose product (the element count) fits in Int", got: shape)
        }
        if let count, count != n {
            throw LSTMKitError.shapeMismatch(what: "tensor values", expected: "\(n) values for shape \(shape)", got: [count])
        }
        return n
    }

    /// A new tensor of `shape` whose values come from `next` (see `assignStreaming`). The buffer is allocated
    /// before any value is drawn, so a size that cannot be allocated fails at once.
    static func streaming(shape: [Int], device: Device, _ next: () -> Double) throws -> Tensor {
        let n = try checkCount(shape, nil)
        let tensor = Tensor(shape: shape, view: BufferView(try device.backend.allocate(n)), device: device)
        try tensor.assignStreaming(next)
        return tensor
    }

    /// Overwrites the values with `next()`, called once per value in row-major order, in chunks of at most
    /// `streamChunk` values, so host memory stays bounded. The result is that of `assign(_: [Double])` on the
    /// same sequence.
    func assignStreaming(_ next: () -> Double) throws {
        let n = count
        var chunk: [Double] = []
        chunk.reserveCapacity(min(n, Self.streamChunk))
        var offset = 0
        while offset < n {
            let m = min(Self.streamChunk, n - offset)
            chunk.removeAll(keepingCapacity: true)
            for _ in 0..<m { chunk.append(next()) }
            try device.backend.write(chunk, to: view.advanced(by: offset))
            offset += m
        }
    }
    static let streamChunk = 1 << 20

    /// The values, row-major, as Float (waits for the device).
    public func toArray() throws -> [Float] { try device.backend.readFloats(view, count: count) }
    /// The values, row-major, as Double (waits for the device).
    public func toDoubles() throws -> [Double] { try device.backend.readDoubles(view, count: count) }

    /// Overwrites the values in place.
    public func assign(_ values: [Float]) throws {
        try Self.checkCount(shape, values.count)
        try device.backend.write(values, to: view)
    }
    /// Overwrites the values in place, from Float64.
    public func assign(_ values: [Double]) throws {
        try Self.checkCount(shape, values.count)
        try device.backend.write(values, to: view)
    }

    /// A copy of this tensor on another device.
    public func to(_ other: Device) throws -> Tensor {
        if other == device { return self }
        return other.precision == .float64 || device.precision == .float64
            ? try Tensor(shape: shape, doubles: toDoubles(), device: other)
            : try Tensor(shape: shape, values: toArray(), device: other)
    }
}
