/// What a recurrent layer keeps from call to call: scratch and tape buffers by role (so a training loop allocates,
/// and on the CPU page-faults, nothing but the tensors it hands out), the last sequence lengths uploaded, and the
/// dropout generator. Only buffers that never leave the layer live here: the output, the final states and the
/// returned gradients are fresh every call.
final class RecurrentWorkspace {
    let backend: Backend
    private var buffers: [String: DeviceBuffer] = [:]
    private var cachedLengths: (values: [Int32], buffer: DeviceBuffer)?
    private var generator: SeededGenerator

    init(backend: Backend, seed: UInt64) {
        self.backend = backend
        generator = SeededGenerator(seed: seed ^ 0xD50_0000)
    }

    /// The buffer `key` with room for `count` scalars (reallocated only when too small).
    func callAsFunction(_ key: String, _ count: Int) throws -> DeviceBuffer {
        if let b = buffers[key], b.count >= count { return b }
        buffers[key] = nil
        let b = try backend.allocate(count)
        buffers[key] = b
        return b
    }

    /// The buffer `key` with room for `count` scalars, its first `n` copied from `source`, or zero without one.
    func buffer(_ key: String, _ count: Int, first n: Int, from source: BufferView?) throws -> DeviceBuffer {
        let b = try self(key, count)
        if let source { try backend.copy(source, to: BufferView(b), count: n) }
        else { try backend.fill(BufferView(b), count: n, value: 0) }
        return b
    }

    /// The lengths [B] on the device: uploaded only when they changed (on OpenCL that write blocks).
    func lengths(_ lengths: [Int]) throws -> DeviceBuffer {
        let values = lengths.map { Int32($0) }
        if let cached = cachedLengths, cached.values == values { return cached.buffer }
        let buffer = try backend.allocateIndices(values)
        cachedLengths = (values, buffer)
        return buffer
    }

    /// The seed of the next dropout mask (between layers, then each direction's recurrent mask).
    func nextSeed() -> UInt32 { UInt32(truncatingIfNeeded: generator.next()) }

    /// Restarts the dropout mask sequence (tests use it to repeat a training-mode forward exactly).
    func resetGenerator(seed: UInt64) { generator = SeededGenerator(seed: seed ^ 0xD50_0000) }
}
