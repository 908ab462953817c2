import COpenCL
import Foundation

/// A `cl_mem` of `count` scalars (float32, or int32 indices), released in `deinit`.
///
/// The byte count is checked for overflow and against the device's limits and live buffers
/// (`OpenCLContext.reserve`) before `clCreateBuffer`, and, where the host's mappings can fail, allocated by
/// the runtime at once (`materialize`). Every refusal or allocation failure (CL_MEM_OBJECT_ALLOCATION_FAILURE,
/// CL_OUT_OF_RESOURCES, CL_OUT_OF_HOST_MEMORY, CL_INVALID_BUFFER_SIZE) is `LSTMKitError.outOfMemory`.
final class CLBuffer: DeviceBuffer, @unchecked Sendable {
    let mem: cl_mem
    let count: Int
    private let context: OpenCLContext
    private let bytes: Int
    init(context: OpenCLContext, count: Int, elementSize: Int = 4) throws {
        let bytes = try Memory.bytes(count: max(count, 1), elementSize: elementSize, device: context.label)
        let materialize = try context.reserve(bytes)
        var err: cl_int = 0
        let m = clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &err)
        guard err == CL_SUCCESS, let m else {
            context.release(bytes)
            throw clAllocationError(err, "clCreateBuffer", bytes: bytes, device: context.label)
        }
        let status = materialize ? context.materialize(m) : CL_SUCCESS
        guard status == CL_SUCCESS else {
            clReleaseMemObject(m)
            context.release(bytes)
            throw clAllocationError(status, "clEnqueueMigrateMemObjects", bytes: bytes, device: context.label)
        }
        mem = m
        self.count = count
        self.context = context
        self.bytes = bytes
    }
    deinit {
        clReleaseMemObject(mem)
        context.release(bytes)
    }
}

/// Tuning values for one device, passed to the kernels as `-D` options (each has an `#ifndef` default in its
/// .cl file) or used by the host. Measured on PoCL 3.1, 2 Zen 4 cores (docs/decisions/0010, 0011) and 2 Zen 5 cores (0028).
struct OpenCLTuning {
    /// One gemm variant's register block (TM x TN of C per work-item, vectors of VW floats) and work-group size.
    struct Block: CustomStringConvertible {
        var tm: Int, tn: Int, vw: Int
        /// Work-items per work-group: the rows of a column panel go together (they share B's panel), then columns.
        /// nil: the runtime chooses.
        var group: Int?
        var description: String { "\(tm)x\(tn)/\(vw)/\(group.map(String.init) ?? "auto")" }
    }
    /// NN (broadcast form), TN (broadcast form), NT and TT (dot form). `forDevice` takes `wideNN` for NN on CPU
    /// devices whose preferred float vector width is 16.
    var nn = Block(tm: 8, tn: 16, vw: 16, group: 16)
    static let wideNN = Block(tm: 8, tn: 32, vw: 16, group: 16)
    var tn = Block(tm: 8, tn: 32, vw: 16, group: 16)
    var dot = Block(tm: 4, tn: 4, vw: 8, group: 16)
    /// The work-group of transpose01 on a matrix (F = 1; nil: the runtime chooses, as on GPUs): 8 source rows x 64
    /// source columns, so a group reads and writes whole cache lines (PoCL's own choice took 3-9x the time on
    /// 2048 x 512; docs/decisions/0028-pocl-forward.md).
    var transposeTile: (Int, Int, Int)? = (1, 8, 64)
    /// A gemm with K above this runs as launches of at most this many k (cache blocking); 0 turns it off.
    var gemmKChunk = 1024
    /// A fixed local size (GPU: 16 x 16), overriding the blocks' group sizes.
    var gemmLocal: [Int]? = nil
    /// lstm_cell.cl: native_exp in sigmoid/tanh (PoCL's builtin exp is 8-10x slower).
    var nativeExp = false
    /// lstm_cell.cl: hidden units per work-item (one floatCVW vector).
    var cellVW = 16
    /// inference.cl lstm_step_infer (`LSTMInference` on CPU-type devices): one launch a step, the recurrent product
    /// fused into the cell, in place of gemm_NN + lstm_cell_infer, for hidden sizes up to `fusedStepMaxHidden`
    /// (set by device type, no override; GPUs keep the pair). PoCL, 2 Zen 5 cores: predict at preset S (H 128) 0.8x the time;
    /// at M (H 256) and D (H 512) no gain, so those keep the pair (docs/decisions/0029-pocl-fused-inference-step.md).
    var fusedStep = false, fusedStepMaxHidden = 128
    /// lstm_step_infer: rows per work-item (FTM: 8 measured faster than 4 at S, M and D) and the most row blocks of
    /// one column panel in a work-group.
    var stepRows = 8, stepGroup = 16
    /// elementwise.cl column_sum: columns per work-item (one floatSVW vector).
    var columnVW = 16
    /// The LSTM transposes W_ih and W_hh once per forward and runs its gemms as NN (the fast form here).
    var prefersNN = true
    /// gemm family: .blocked (gemm.cl, CPUs) or .local (gemm_local.cl with `localTile`, GPUs). OpenCLTuning+GPU.swift.
    var gemmKind = GemmKind.blocked
    var localTile = LocalTile()
    /// lstm_persistent.cl: forwards with batch <= persistentMaxBatch (0: never) and hidden <= persistentMaxHidden
    /// run one launch per layer and direction (`usePersistent`); W_hh goes to local memory when it fits
    /// persistentLocalBytes; persistentGroup work-items per batch row.
    var persistentMaxBatch = 0, persistentMaxHidden = 256, persistentLocalBytes = 0, persistentGroup = 256
    /// lstm_variants.cl: the largest work-group of the layer-norm kernels (a power of two; LSTMKIT_LN_WG).
    var layerNormGroup = 64
    /// The device's local memory and largest work-group (CL_DEVICE_LOCAL_MEM_SIZE, CL_DEVICE_MAX_WORK_GROUP_SIZE), set by
    /// `OpenCLBackend` for its device: the persistent kernel's defines and work-group (`persistentDefines(hidden:)`).
    var deviceLocalBytes = Int.max, deviceMaxGroup = Int.max

    /// The device-type defaults, then the entry `lstm-bench --autotune` stored for this device (`TuningStore`, nil:
    /// none), then the LSTMKIT_* variables of `environment` (the later wins). Bad values: one warning, ignored.
    static func forDevice(_ info: OpenCLDeviceInfo, store: TuningStore? = .standard,
                          environment: [String: String] = ProcessInfo.processInfo.environment) -> OpenCLTuning {
        var t = OpenCLTuning()
        if info.isGPU {
            // Not measured here (no GPU on the benchmark machine): small blocks, 16 x 16 work-groups.
            t.nn = Block(tm: 4, tn: 4, vw: 4, group: nil); t.tn = t.nn
            t.dot = Block(tm: 2, tn: 2, vw: 4, group: nil)
            t.gemmLocal = [16, 16]
            t.gemmKChunk = 0
            t.cellVW = 1; t.columnVW = 1
            t.gemmKind = .local; t.persistentMaxBatch = 16; t.persistentLocalBytes = 48 << 10
            t.transposeTile = nil
        } else {
            t.nativeExp = true
            t.fusedStep = true
            // 16 floats a vector (AVX-512): two vectors per row of the NN block, 16 accumulators of 32 registers
            // (PoCL predict at M: 0.58-0.73x the time of 8x16; docs/decisions/0028-pocl-forward.md). Narrower devices
            // (AVX2 targets: 8) keep 8x16/16/16 unchanged.
            if info.preferredFloatVectorWidth >= 16 { t.nn = Self.wideNN }
        }
        // Overrides (TuningStore.swift parses both sources): LSTMKIT_GEMM_NN=TMxTN/VW/GROUP, e.g. 8x16/16/8.
        t.applyStoredAndEnvironment(info, store: store, environment: environment)
        t.applyGPUKernelEnvironment(environment)  // LSTMKIT_GEMM_KIND, LSTMKIT_PERSISTENT_* (OpenCLTuning+GPU.swift)
        return t
    }

    /// The block of one gemm variant.
    func block(transA: Bool, transB: Bool) -> Block { transB ? dot : (transA ? tn : nn) }
    /// The gemm.cl defines of one variant (with TRANS_A/TRANS_B).
    func gemmDefines(transA: Bool, transB: Bool) -> [String: String] {
        let b = block(transA: transA, transB: transB)
        return ["TRANS_A": transA ? "1" : "0", "TRANS_B": transB ? "1" : "0", "TM": "\(b.tm)", "TN": "\(b.tn)", "VW": "\(b.vw)"]
    }
    /// The lstm_cell.cl defines.
    var cellDefines: [String: String] { ["LSTMKIT_NATIVE_EXP": nativeExp ? "1" : "0", "CVW": "\(cellVW)"] }
    /// The inference.cl defines of lstm_step_infer (the cell's, and FTM).
    var stepDefines: [String: String] { cellDefines.merging(["FTM": "\(stepRows)"]) { a, _ in a } }
    /// lstm_step_infer's work-group height: the largest power of two within `stepGroup` and the row blocks.
    func stepGroupRows(rowBlocks: Int) -> Int {
        var rows = 1
        while rows * 2 <= min(rowBlocks, stepGroup) { rows *= 2 }
        return rows
    }
    /// Whether `LSTMInference` runs lstm_step_infer for hidden size H: `fusedStep`, H at most `fusedStepMaxHidden`,
    /// and H within one K chunk of the gemm (so each sum is the gemm's one fma chain: the same bits).
    func fusesStep(hidden: Int) -> Bool {
        fusedStep && hidden <= fusedStepMaxHidden && (gemmKChunk == 0 || hidden <= gemmKChunk)
    }
    /// The elementwise.cl defines.
    var elementwiseDefines: [String: String] { ["SVW": "\(columnVW)"] }
    /// The lstm_variants.cl defines of every kernel but layer norm's (a work-group of one: LN_WG 1).
    var variantDefines: [String: String] { ["LSTMKIT_NATIVE_EXP": nativeExp ? "1" : "0", "LN_WG": "1", "PVW": "\(columnVW)"] }
    /// The layer-norm work-group size for rows of `n` units: `layerNormGroup`, halved until it is at most n, so every
    /// work-item owns at least one unit. (PoCL 3.1 crashes in layer_norm_backward when work-items own none.) A group of 2
    /// becomes 1: PoCL 3.1's work-item replication, its choice for tiny groups, compiles lstm_ln_cell_forward at local
    /// size 2 into code that runs off its buffers (SIGSEGV, any H; POCL_WORK_GROUP_METHOD=loopvec runs it, Oclgrind
    /// finds nothing), and only the cell kernels (n = H = 2 or 3) get there, as layer_norm_* rows are 4H long.
    func layerNormWorkGroup(units n: Int) -> Int {
        var g = layerNormGroup
        while g > 1 && g > n { g /= 2 }
        return g == 2 ? 1 : g
    }
    /// The lstm_variants.cl defines of the layer-norm kernels of one work-group per row, for rows of `n` units.
    func layerNormDefines(units n: Int) -> [String: String] {
        ["LSTMKIT_NATIVE_EXP": nativeExp ? "1" : "0", "LN_WG": "\(layerNormWorkGroup(units: n))", "PVW": "\(columnVW)"]
    }
    /// Every tuning value, for reports.
    var defines: [String: String] {
        ["GEMM_NN": "\(nn)", "GEMM_TN": "\(tn)", "GEMM_NT": "\(dot)", "GEMM_KCHUNK": "\(gemmKChunk)",
         "GEMM_LOCAL": gemmLocal.map { "\($0)" } ?? "-", "NATIVE_EXP": nativeExp ? "1" : "0", "CELL_VW": "\(cellVW)",
         "COLUMN_VW": "\(columnVW)", "PREFER_NN": prefersNN ? "1" : "0", "FUSED_STEP": fusedStep ? "\(fusedStepMaxHidden)" : "0"].merging(gpuKernelDefines) { old, _ in old }
    }
}

/// The OpenCL path: every primitive is one kernel launch (or a buffer copy) on the context's in-order queue: the gemm
/// here, the table's kernels through `launch`, the rest (the persistent policy, the streaming step) in the extensions.
final class OpenCLBackend: Backend, @unchecked Sendable {
    let context: OpenCLContext
    let tuning: OpenCLTuning
    var openCLTuning: OpenCLTuning? { tuning }
    /// No packed gemm: StepOperand transposes (prefersNNGemm) or calls `gemm`.
    var packedGemm: PackedGemmBackend? { nil }
    var precision: Precision { .float32 }

    /// The kernels this backend launches, looked up once and cached here (no string work per launch).
    private enum KernelID: Int, CaseIterable {
        case gemmNN, gemmNT, gemmTN, gemmTT
        case gemmLocalNN, gemmLocalNT, gemmLocalTN, gemmLocalTT  // gemm_local.cl (tuning.gemmKind == .local)
    }
    private static let gemmLabels = ["gemm_NN", "gemm_NT", "gemm_TN", "gemm_TT",
                                     "gemm_local_NN", "gemm_local_NT", "gemm_local_TN", "gemm_local_TT"]
    private var kernelCache = [cl_kernel?](repeating: nil, count: KernelID.allCases.count)
    private var tableKernels = [cl_kernel?](repeating: nil, count: Kernel.allCases.count)
    private let kernelCacheLock = NSLock()

    /// `tuning` nil: `OpenCLTuning.forDevice` (lstm-bench's autotune passes candidates).
    init(context: OpenCLContext, tuning: OpenCLTuning? = nil) {
        self.context = context
        var t = tuning ?? OpenCLTuning.forDevice(context.info)
        t.deviceLocalBytes = Int(OpenCLDiscovery.deviceValue(context.device, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong.self))
        t.deviceMaxGroup = OpenCLDiscovery.deviceValue(context.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, Int.self)
        self.tuning = t
    }

    private func kernel(_ id: KernelID) throws -> cl_kernel {
        kernelCacheLock.lock(); defer { kernelCacheLock.unlock() }
        if let k = kernelCache[id.rawValue] { return k }
        let k: cl_kernel
        switch id {
        case .gemmNN, .gemmNT, .gemmTN, .gemmTT:
            let t = id.rawValue - KernelID.gemmNN.rawValue
            k = try context.kernel("gemm", file: "gemm.cl", defines: tuning.gemmDefines(transA: t >= 2, transB: t % 2 == 1))
        case .gemmLocalNN, .gemmLocalNT, .gemmLocalTN, .gemmLocalTT:
            let t = id.rawValue - KernelID.gemmLocalNN.rawValue
            k = try context.kernel("gemm", file: "gemm_local.cl", defines: tuning.gemmLocalDefines(transA: t >= 2, transB: t % 2 == 1))
        }
        kernelCache[id.rawValue] = k
        return k
    }

    func setProfiling(_ enabled: Bool) throws { try context.setProfiling(enabled) }
    func takeProfile() throws -> [(label: String, launches: Int, seconds: Double)] { try context.takeProfile() }

    private func mem(_ b: DeviceBuffer) -> cl_mem { (b as! CLBuffer).mem }

    func allocate(_ count: Int) throws -> DeviceBuffer { try CLBuffer(context: context, count: count) }

    func allocateIndices(_ values: [Int32]) throws -> DeviceBuffer {
        let buffer = try CLBuffer(context: context, count: values.count)
        try clCheck(clEnqueueWriteBuffer(context.queue, buffer.mem, cl_bool(CL_TRUE), 0, values.count * 4, values, 0, nil, nil),
                    "clEnqueueWriteBuffer")
        return buffer
    }

    func write(_ values: [Float], to view: BufferView) throws {
        if values.isEmpty { return }
        try clCheck(clEnqueueWriteBuffer(context.queue, mem(view.buffer), cl_bool(CL_TRUE), view.offset * 4, values.count * 4,
                                         values, 0, nil, nil), "clEnqueueWriteBuffer")
    }
    func write(_ values: [Double], to view: BufferView) throws {
        try write(values.map { Float($0) }, to: view)
    }
    func readFloats(_ view: BufferView, count: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return out }
        try clCheck(clEnqueueReadBuffer(context.queue, mem(view.buffer), cl_bool(CL_TRUE), view.offset * 4, count * 4,
                                        &out, 0, nil, nil), "clEnqueueReadBuffer")
        return out
    }
    func readDoubles(_ view: BufferView, count: Int) throws -> [Double] {
        try readFloats(view, count: count).map { Double($0) }
    }
    func copy(_ src: BufferView, to dst: BufferView, count: Int) throws {
        if count == 0 { return }
        try context.copy(mem(src.buffer), src.offset * 4, to: mem(dst.buffer), dst.offset * 4, bytes: count * 4)
    }

    var prefersNNGemm: Bool { tuning.prefersNN }

    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
              a: BufferView, lda: Int, b: BufferView, ldb: Int, beta: Double, c: BufferView, ldc: Int) throws {
        if m == 0 || n == 0 { return }
        let variant = (transA ? 2 : 0) + (transB ? 1 : 0)
        let tiled = tuning.gemmKind == .local  // gemm_local.cl: one work-group per TSM x TSN tile
        let kernel = try kernel(KernelID(rawValue: (tiled ? KernelID.gemmLocalNN : .gemmNN).rawValue + variant)!)
        let block = tuning.block(transA: transA, transB: transB)
        var global = [(n + block.tn - 1) / block.tn, (m + block.tm - 1) / block.tm]
        var local = tuning.gemmLocal
        if tiled {
            let range = tuning.localTile.ndRange(m: m, n: n)
            global = range.global; local = range.local
        } else if local == nil, let size = block.group {
            // The rows of one column panel in one group (they read the same panel of B), then columns.
            var rows = 1
            while rows * 2 <= min(global[1], size) { rows *= 2 }
            local = [max(1, size / rows), rows]
        }
        // Cache blocking: K in balanced chunks of at most gemmKChunk, accumulating into C after the first.
        let chunkLimit = tuning.gemmKChunk > 0 ? tuning.gemmKChunk : max(k, 1)
        let chunks = max(1, (k + chunkLimit - 1) / chunkLimit)
        var k0 = 0
        for index in 0..<chunks {
            let kk = (k - k0) / (chunks - index)
            let offA = a.offset + (transA ? k0 * lda : k0), offB = b.offset + (transB ? k0 : k0 * ldb)
            try context.launch(kernel, [
                .int(m), .int(n), .int(kk), .float(alpha),
                .mem(mem(a.buffer)), .int(offA), .int(lda),
                .mem(mem(b.buffer)), .int(offB), .int(ldb),
                .float(index == 0 ? beta : 1), .mem(mem(c.buffer)), .int(c.offset), .int(ldc),
            ], global: global, local: local, label: Self.gemmLabels[variant + (tiled ? 4 : 0)])
            k0 += kk
        }
    }

    /// A kernel of the table (`Kernel`): its handle resolved once per backend (per launch when its defines read the
    /// arguments), its arguments set in order.
    func launch(_ kernel: Kernel, _ args: KernelArguments) throws {
        let d = kernel.description
        let k = d.definesReadArguments ? try context.kernel(d.name, file: d.file, defines: d.defines(args, tuning)) : try tableKernel(kernel, args)
        var local = d.local?(args, tuning)
        if kernel == .transpose01, args.int(2) == 1, let tile = tuning.transposeTile { local = tile }
        try context.launch(k, args, global: d.global(args, tuning), local: local, dims: d.dims, label: d.name)
    }
    private func tableKernel(_ kernel: Kernel, _ args: KernelArguments) throws -> cl_kernel {
        kernelCacheLock.lock(); defer { kernelCacheLock.unlock() }
        if let k = tableKernels[kernel.rawValue] { return k }
        let d = kernel.description
        let k = try context.kernel(d.name, file: d.file, defines: d.defines(args, tuning))
        tableKernels[kernel.rawValue] = k
        return k
    }
    func synchronize() throws { try context.finish() }
}
extension OpenCLBackend: ConvBackend {}
extension OpenCLBackend: GRUBackend {}
extension OpenCLBackend: LSTMVariantBackend {}
extension OpenCLBackend: TrainingBackend {}
