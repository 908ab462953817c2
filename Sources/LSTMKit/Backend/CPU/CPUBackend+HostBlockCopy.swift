import Foundation

/// The CPU's block copies between host arrays and its buffers (`InferenceBackend.writeHostBlock`,
/// `readHostBlock`): in Float32 a buffer holds the floats as they are, so a batch of `predict` moves with one
/// memcpy (`readHost` / `writeHost` convert element by element through the generic scalar: at preset M, 1.6M
/// output floats took 38 ms a batch to read back). Float64 converts.
extension CPUBackend {
    func writeHostBlock(_ values: UnsafeBufferPointer<Float>, to view: BufferView) throws {
        guard S.self == Float.self else { return try writeHost(values, to: view) }
        guard let base = values.baseAddress, values.count > 0 else { return }
        precondition(view.offset + values.count <= view.buffer.count, "writeHostBlock: past the end of the buffer")
        let p = (view.buffer as! CPUBuffer<S>).pointer + view.offset
        UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: values.count * MemoryLayout<Float>.size)
    }

    func readHostBlock(_ view: BufferView, into: UnsafeMutableBufferPointer<Float>) throws {
        guard S.self == Float.self else { return try readHost(view, into: into) }
        guard let base = into.baseAddress, into.count > 0 else { return }
        precondition(view.offset + into.count <= view.buffer.count, "readHostBlock: past the end of the buffer")
        let p = (view.buffer as! CPUBuffer<S>).pointer + view.offset
        UnsafeMutableRawPointer(base).copyMemory(from: UnsafeRawPointer(p), byteCount: into.count * MemoryLayout<Float>.size)
    }
}
