/// Value precision of a device's buffers. OpenCL runs Float32; the CPU runs Float32 or Float64
/// (Float64 is for finite-difference gradient checks).
public enum Precision: String, Sendable {
    case float32, float64
}

/// Memory owned by one backend: a `cl_mem`, or host memory for the CPU. Released in `deinit`.
protocol DeviceBuffer: AnyObject {
    /// Number of scalar elements.
    var count: Int { get }
}

/// A buffer plus an element offset: how every primitive addresses a matrix or a slab.
struct BufferView {
    let buffer: DeviceBuffer
    let offset: Int
    init(_ buffer: DeviceBuffer, _ offset: Int = 0) { self.buffer = buffer; self.offset = offset }
    func advanced(by n: Int) -> BufferView { BufferView(buffer, offset + n) }
}

/// The primitives the layers are written against. Each has an OpenCL kernel and a CPU twin with the
/// same name and argument order (Kernels/*.cl and CPU/CPUKernels.swift); see those for the math.
/// All matrices are row-major. Calls only enqueue work: nothing waits on the host until `read`.
protocol Backend: AnyObject, Sendable {
    var precision: Precision { get }

    // Memory
    func allocate(_ count: Int) throws -> DeviceBuffer
    /// Int32 buffer (sequence lengths).
    func allocateIndices(_ values: [Int32]) throws -> DeviceBuffer
    func write(_ values: [Float], to view: BufferView) throws
    func write(_ values: [Double], to view: BufferView) throws
    func readFloats(_ view: BufferView, count: Int) throws -> [Float]
    func readDoubles(_ view: BufferView, count: Int) throws -> [Double]
    func copy(_ src: BufferView, to dst: BufferView, count: Int) throws

    // Kernels
    /// C[M,N] = alpha * op(A) * op(B) + beta * C. Kernels/gemm.cl.
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
              a: BufferView, lda: Int, b: BufferView, ldb: Int, beta: Double, c: BufferView, ldc: Int) throws
    /// One forward step of the fused LSTM cell. Kernels/lstm_cell.cl.
    func lstmCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gx: BufferView, r: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                         hs: BufferView, cs: BufferView, gates: BufferView, y: BufferView, ldy: Int) throws
    /// One backward step of the fused LSTM cell. Kernels/lstm_cell.cl.
    func lstmCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                          gates: BufferView, cs: BufferView, dy: BufferView, lddy: Int,
                          dh: BufferView, dc: BufferView, dgs: BufferView, dgt: BufferView) throws
    /// x[0..<n) = value. Kernels/elementwise.cl.
    func fill(_ x: BufferView, count: Int, value: Double) throws
    /// [D0, D1, F] -> [D1, D0, F]. Kernels/elementwise.cl.
    func transpose01(d0: Int, d1: Int, features: Int, src: BufferView, dst: BufferView) throws
    /// out[n] = beta * out[n] + sum_m x[m, n], x: [M, N] with leading dimension ld. Kernels/elementwise.cl.
    func columnSum(m: Int, n: Int, x: BufferView, ld: Int, beta: Double, out: BufferView) throws
    /// Inverted dropout with a counter-based mask that both devices compute identically. Kernels/elementwise.cl.
    func dropout(count: Int, p: Double, seed: UInt32, x: BufferView, y: BufferView) throws

    /// Waits until all enqueued work is done.
    func synchronize() throws
}

extension Backend {
    func allocateZeros(_ count: Int) throws -> DeviceBuffer {
        let buffer = try allocate(count)
        try fill(BufferView(buffer), count: count, value: 0)
        return buffer
    }
}
