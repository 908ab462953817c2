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
        try checkCount(shape, nil)
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, view: BufferView(try device.backend.allocateZeros(n)), device: device)
    }

    private static func checkCount(_ shape: [Int], _ count: Int?) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw LSTMKitError.shapeMismatch(what: "tensor", expected: "non-negative dimensions", got: shape)
        }
        if let count, count != shape.reduce(1, *) {
            throw LSTMKitError.shapeMismatch(what: "tensor values", expected: "\(shape.reduce(1, *)) values for shape \(shape)", got: [count])
        }
    }

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
