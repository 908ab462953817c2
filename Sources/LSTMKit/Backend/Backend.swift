import CBLAS
import CLSTMCell
import Foundation

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

/// The optional parts of the fused LSTM cell (Kernels/lstm_cell.cl): all off by default.
struct LSTMCellExtras {
    /// > 0: c_t is clamped to [-cellClip, cellClip] (cuDNN's cell clipping).
    var cellClip: Double = 0
    /// Peephole weights [3H] (p_i, p_f, p_o).
    var peephole: BufferView? = nil
    /// Recurrent-dropout mask [B, H] (0 or 1/(1-p)).
    var recurrentMask: BufferView? = nil
    /// With `recurrentMask`, forward only: hm [T+1, B, H] receives h_t * mask (the next recurrent gemm's input).
    var maskedStates: BufferView? = nil
    /// Forward only: false leaves y alone (projection, where hs receives m_t = o * tanh(c_t)).
    var writeOutput = true
    /// Keras's `activation` (g and the cell output) and `recurrent_activation` (i, f, o), as kinds of
    /// Kernels/common.cl `lstmkit_act` (`Activation.kernelKind`): tanh and sigmoid by default.
    var activation = Activation.tanh.kernelKind
    var recurrentActivation = Activation.sigmoid.kernelKind
}

/// The primitives the layers are written against: memory, the gemm, and one launch of any kernel of the table
/// (`Kernel`: an OpenCL kernel and its CPU twin of the same name and argument order, Kernels/*.cl and
/// CPU/CPUBackend+Launch.swift; see those for the math). The named primitives (`fill`, `lstmCellForward`, the
/// op families' methods) are extensions that build a launch's arguments. All matrices are row-major. Calls only
/// enqueue work: nothing waits on the host until `read`.
protocol Backend: ProfilingBackend, Sendable {
    var precision: Precision { get }
    /// True when the backend's NN gemm is much faster than its NT gemm, so the LSTM and GRU transpose W_ih
    /// (and StepOperand W_hh, W_hr) once per forward (OpenCL on PoCL: NN 60-120 GFLOP/s, NT 25-30); the CPU's
    /// cblas runs both alike. The backend's own policy, as `packedGemm`.
    var prefersNNGemm: Bool { get }
    /// The backend's packed step gemm (StepOperand packs op(B) once per pass for it), or nil: plain `gemm`.
    var packedGemm: PackedGemmBackend? { get }
    /// An OpenCL backend's tuning (nil on the CPU).
    var openCLTuning: OpenCLTuning? { get }

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
    /// One kernel of the table (`Kernel`: name, file, arguments, work size): the OpenCL kernel, or its CPU twin of
    /// the same name (CPU/CPUBackend+Launch.swift).
    func launch(_ kernel: Kernel, _ args: KernelArguments) throws

    /// Waits until all enqueued work is done.
    func synchronize() throws
}

extension Backend {
    /// x[0..<n) = value. Kernels/elementwise.cl.
    func fill(_ x: BufferView, count: Int, value: Double) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.float(value)); a.append(.view(x))
        try launch(.fill, a)
    }
    /// [D0, D1, F] -> [D1, D0, F]. Kernels/elementwise.cl.
    func transpose01(d0: Int, d1: Int, features: Int, src: BufferView, dst: BufferView) throws {
        var a = KernelArguments(); a.append(.int(d0)); a.append(.int(d1)); a.append(.int(features)); a.append(.view(src)); a.append(.view(dst))
        try launch(.transpose01, a)
    }
    /// out[n] = beta * out[n] + sum_m x[m, n], x: [M, N] with leading dimension ld. Kernels/elementwise.cl.
    func columnSum(m: Int, n: Int, x: BufferView, ld: Int, beta: Double, out: BufferView) throws {
        var a = KernelArguments(); a.append(.int(m)); a.append(.int(n)); a.append(.view(x)); a.append(.int(ld))
        a.append(.float(beta)); a.append(.view(out))
        try launch(.columnSum, a)
    }
    /// Inverted dropout with a counter-based mask that both devices compute identically. Kernels/elementwise.cl.
    func dropout(count: Int, p: Double, seed: UInt32, x: BufferView, y: BufferView) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.float(p)); a.append(.uint(seed)); a.append(.view(x)); a.append(.view(y))
        try launch(.dropout, a)
    }

    /// One forward step of the fused LSTM cell, with the variants in `extras`. Kernels/lstm_cell.cl.
    func lstmCellForward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                         gx: BufferView, r: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                         hs: BufferView, cs: BufferView, gates: BufferView, y: BufferView, ldy: Int, extras: LSTMCellExtras) throws {
        // The step buffers are whole allocations; the kernel indexes them by step.
        precondition(gx.offset == 0 && r.offset == 0 && hs.offset == 0 && cs.offset == 0 && gates.offset == 0)
        precondition((extras.recurrentMask?.offset ?? 0) == 0 && (extras.maskedStates?.offset ?? 0) == 0)
        let any = BufferView(gx.buffer)  // stands in for an absent optional buffer (never read)
        let bias = biasIH ?? any
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gx.buffer)); a.append(.mem(r.buffer))
        a.append(.view(bias)); a.append(.view(biasHH ?? BufferView(bias.buffer))); a.append(.int(biasIH == nil ? 0 : 1))
        a.append(.mem(hs.buffer)); a.append(.mem(cs.buffer)); a.append(.mem(gates.buffer))
        a.append(.view(y)); a.append(.int(ldy)); a.append(.float(extras.cellClip))
        a.append(.view(extras.peephole ?? any)); a.append(.int(extras.peephole == nil ? 0 : 1))
        a.append(.mem(extras.recurrentMask?.buffer ?? any.buffer)); a.append(.int(extras.recurrentMask == nil ? 0 : 1))
        a.append(.mem(extras.maskedStates?.buffer ?? any.buffer)); a.append(.int(extras.writeOutput ? 1 : 0))
        a.append(.int(extras.activation)); a.append(.int(extras.recurrentActivation))
        try launch(.lstmCellForward, a)
    }
    /// One backward step of the fused LSTM cell (the same `extras`). Kernels/lstm_cell.cl.
    func lstmCellBackward(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                          gates: BufferView, cs: BufferView, dy: BufferView, lddy: Int,
                          dh: BufferView, dc: BufferView, dgs: BufferView, dgt: BufferView, extras: LSTMCellExtras) throws {
        precondition(gates.offset == 0 && cs.offset == 0 && dh.offset == 0 && dc.offset == 0 && dgs.offset == 0 && dgt.offset == 0)
        precondition((extras.recurrentMask?.offset ?? 0) == 0)
        let any = BufferView(gates.buffer)  // stands in for an absent optional buffer (never read)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gates.buffer)); a.append(.mem(cs.buffer)); a.append(.view(dy)); a.append(.int(lddy))
        a.append(.mem(dh.buffer)); a.append(.mem(dc.buffer)); a.append(.mem(dgs.buffer)); a.append(.mem(dgt.buffer))
        a.append(.float(extras.cellClip))
        a.append(.view(extras.peephole ?? any)); a.append(.int(extras.peephole == nil ? 0 : 1))
        a.append(.mem(extras.recurrentMask?.buffer ?? any.buffer)); a.append(.int(extras.recurrentMask == nil ? 0 : 1))
        a.append(.int(extras.activation)); a.append(.int(extras.recurrentActivation))
        try launch(.lstmCellBackward, a)
    }

    func allocateZeros(_ count: Int) throws -> DeviceBuffer {
        let buffer = try allocate(count)
        try fill(BufferView(buffer), count: count, value: 0)
        return buffer
    }
}

// MARK: Benchmark hooks

/// A backend that can time its primitives (opt-in; zero cost while off).
protocol ProfilingBackend: AnyObject {
    func setProfiling(_ enabled: Bool) throws
    /// Waits for the device, returns the time spent per label since the last call, and forgets it.
    func takeProfile() throws -> [(label: String, launches: Int, seconds: Double)]
}

/// Device time of one kernel (or copy) label, summed over its launches.
@_spi(Benchmark) public struct KernelTime: Sendable {
    public let name: String
    public let launches: Int
    public let seconds: Double
    public init(name: String, launches: Int, seconds: Double) {
        self.name = name; self.launches = launches; self.seconds = seconds
    }
}

/// Hooks for Benchmarks/lstm-bench (`@_spi(Benchmark) import LSTMKit`); not part of the public API.
@_spi(Benchmark) public enum BenchmarkHooks {
    /// C[M, N] = op(A) . op(B) through the device's own gemm primitive (packed, row-major, beta 0).
    public static func gemm(on device: Device, transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            a: Tensor, b: Tensor, c: Tensor) throws {
        try device.backend.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                                a: a.view, lda: transA ? m : k, b: b.view, ldb: transB ? k : n,
                                beta: 0, c: c.view, ldc: n)
    }

    /// The mean squared error over all elements, on the device, with the training stack's own loss kernel
    /// (`Loss.meanSquaredError`): writes d(loss)/d(prediction) into `gradient` and the per-row sums into `rowLoss`
    /// (`prediction.count / lastDim` values). Nothing is read back.
    public static func meanSquaredError(prediction: Tensor, target: Tensor, gradient: Tensor, rowLoss: Tensor) throws {
        let cols = prediction.shape.last ?? 1, rows = prediction.count / max(cols, 1)
        let (kind, scale) = Loss.meanSquaredError.kernel(fused: false, rows: rows, cols: cols)
        try prediction.device.training.lossRows(kind, rows: rows, cols: cols, pred: prediction.view, target: target.view,
                                                scale: scale, rowLoss: rowLoss.view.buffer, grad: gradient.view)
    }

    /// Switches per-kernel profiling on or off (OpenCL: profiling events; CPU: wall time per primitive).
    public static func setProfiling(_ enabled: Bool, on device: Device) throws {
        try device.backend.setProfiling(enabled)
    }

    /// Per-kernel times since profiling was switched on or since the last call, slowest first.
    public static func takeProfile(of device: Device) throws -> [KernelTime] {
        try device.backend.takeProfile()
            .map { KernelTime(name: $0.label, launches: $0.launches, seconds: $0.seconds) }
    }

    /// The `-D` tuning values the device's kernels are built with (empty on the CPU).
    public static func tuning(of device: Device) -> [String: String] {
        device.backend.openCLTuning?.defines ?? [:]
    }

    /// Static information: OpenCL platform version and device name, or the CPU's BLAS.
    public static func describe(_ device: Device) -> String {
        if let context = device.openCL {
            return "\(context.info.deviceName) [\(context.platformVersion)]"
        }
        return "cpu (cblas/OpenBLAS)"
    }

    /// What the CPU path runs on: OpenBLAS's kernel set (and whether OPENBLAS_CORETYPE forced it) and the
    /// instruction set of LSTMKit's own C kernels, e.g. "OpenBLAS kernels Haswell (OPENBLAS_CORETYPE=Haswell);
    /// LSTMKit C kernels avx512f".
    public static var cpuLibraries: String {
        _ = Settings.applyToC
        let core = lstmkit_openblas_corename().map { String(cString: $0) } ?? "not named by this cblas"
        let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        return "OpenBLAS kernels \(core)\(forced); LSTMKit C kernels \(String(cString: lstmkit_cell_isa()))"
    }
}
