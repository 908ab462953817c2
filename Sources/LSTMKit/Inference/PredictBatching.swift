/// How many samples one forward of `predict` / `evaluate` takes when the caller gives no batch size: each batch
/// is uploaded, run and read back on its own, so neither the whole input nor its activations have to fit in the
/// device's memory at once.
///
/// - Memory (both devices): a batch's buffers (`Footprint.bytesPerRow` per sample) fit in `DeviceMemoryBudget`,
///   and its largest buffer in the largest allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE on OpenCL).
/// - OpenCL on a GPU or accelerator: the largest batch that budget allows (one upload, one forward per batch; a
///   bigger batch is a wider NDRange), at most `openCLMaxRows`. An OpenCL device that is a CPU (PoCL) takes the
///   CPU's rule below with its compute units as threads: on PoCL here (S, 256 samples, interleaved, load 6.8)
///   batches 16/32/64/128/256 took 42/28/31/33/43 ms, so wide batches do not pay there.
/// - CPU: the batch whose data of one time step (`Footprint.cacheBytesPerRow`: a recurrent layer's step of the
///   input projection, the recurrent product, h, c and the output, 11·H·D values a sample) fills a quarter of the
///   L2 of each worker thread (each thread runs all steps of its rows, `lstmInferSequence`; the rest of its L2
///   holds the panels of the packed W_hh and the streamed rows), a multiple of 8 (the cell's and the small
///   gemm's row tiles), in `cpuMinRows...cpuMaxRows`: 40 for preset M, 32 for L on this 2-core EPYC (1 MiB L2 a
///   core). Measured with `lstm-bench --predict-batches` (interleaved rounds, load 4 on 2 cores, block copies):
///   M, 256 samples: batch 32 261 ms, 64 264, 88 310, 128 311, 256 327; L, 128 samples: 32 479 ms, 40 481,
///   64 498, 128 504. (Under load 7, before the block copies, M's best was 64-96.) Fewer rows read all of W_hh
///   once per step for fewer samples; more spill a thread's rows out of its cache.
///
/// The rows of a batch are independent, so the batching does not change a sample's result (`PredictBatchingTests`
/// checks the bits on both devices).
struct PredictBatching: Sendable, Equatable {
    /// Samples per forward.
    let rows: Int

    /// The fewest and most rows of a CPU batch (fewer when the input is smaller or memory allows fewer).
    static let cpuMinRows = 32, cpuMaxRows = 512
    /// The most rows an OpenCL batch takes.
    static let openCLMaxRows = 1024

    /// Bytes one sample takes in a forward of the model, from its per-sample shapes.
    struct Footprint: Sendable, Equatable {
        /// All of a sample's activations (every layer's input and output, a recurrent layer's projection and
        /// transposed copies), summed: more than is live at once.
        let bytesPerRow: Int
        /// The largest single buffer of a sample (its part of the biggest activation).
        let largestBufferPerRow: Int
        /// The most one layer touches for a sample in one time step: a recurrent layer's 11·H·D values (4H·D of the
        /// input projection, 4H of the recurrent product, h and c, H·D of the output), another layer's input and
        /// output.
        let cacheBytesPerRow: Int
    }

    /// The footprint of `model` (built) per sample, in elements of `elementSize` bytes; a typed error when a size
    /// overflows.
    static func footprint(of model: Sequential, elementSize: Int) throws -> Footprint {
        guard let inputShape = model.inputShape else {
            throw LSTMKitError.invalidArgument(name: "Sequential", value: "unbuilt", reason: "predict builds the model before batching")
        }
        func count(_ shape: [Int]) throws -> Int {
            guard let n = Memory.product(shape) else { throw overflow("a per-sample shape \(shape)") }
            return n
        }
        func add(_ a: Int, _ b: Int) throws -> Int {
            let (s, o) = a.addingReportingOverflow(b)
            guard !o else { throw overflow("the activations of one sample") }
            return s
        }
        func bytes(_ n: Int) throws -> Int {
            let (b, o) = n.multipliedReportingOverflow(by: elementSize)
            guard !o else { throw overflow("\(n) elements of \(elementSize) bytes") }
            return b
        }
        var total = try count(inputShape), largest = total, cache = 0
        var previous = total, previousShape = inputShape
        for (layer, shape) in zip(model.layers, model.layerOutputShapes) {
            let out = try count(shape)
            // A recurrent layer: units and directions (its input projection [T, 4H·D] and a step's 11·H·D values).
            let recurrent: (units: Int, directions: Int)? = (layer as? RecurrentLayer).map { ($0.units, 1) }
                ?? (layer as? Bidirectional).map { ($0.layer.units, 2) }
            let extra = try recurrent.map { try projection($0.units, directions: $0.directions, steps: previousShape) } ?? 0
            // Input, output, projection and (batch-first) transposed copies of input and output.
            let parts = [previous, out, extra, previous, out]
            var layerTotal = 0
            for p in parts {
                largest = max(largest, p)
                layerTotal = try add(layerTotal, p)
            }
            total = try add(total, layerTotal)
            if let recurrent {
                guard let step = Memory.product([11, recurrent.units, recurrent.directions]) else { throw overflow("the step of a recurrent layer") }
                cache = max(cache, step)
            } else {
                cache = max(cache, try add(previous, out))
            }
            previous = out
            previousShape = shape
        }
        return Footprint(bytesPerRow: try bytes(total), largestBufferPerRow: try bytes(largest), cacheBytesPerRow: try bytes(cache))
    }

    /// Elements of a recurrent layer's input projection for one sample: T · 4 · units · directions, T the first
    /// dimension of the layer's input shape [T, F].
    private static func projection(_ units: Int, directions: Int, steps shape: [Int]) throws -> Int {
        guard let steps = shape.first, let n = Memory.product([steps, 4, units, directions]) else {
            throw overflow("the input projection of a recurrent layer")
        }
        return n
    }

    private static func overflow(_ what: String) -> LSTMKitError {
        LSTMKitError.invalidArgument(name: "predict", value: what, reason: "its size in bytes overflows a 64-bit count")
    }

    /// The batch for `samples` samples of `model` (built) on `device`, from `footprint`, the device's memory now
    /// and, on a CPU (the CPU path, or an OpenCL device that is no GPU or accelerator, as PoCL's), `caches` and
    /// `threads` (nil: the CPU path's worker threads, an OpenCL device's compute units). Throws `outOfMemory`
    /// when not even one sample fits.
    static func choose(samples: Int, footprint: Footprint, device: Device, budget: DeviceMemoryBudget,
                       caches: CacheSizes = .current, threads: Int? = nil) throws -> PredictBatching {
        let perRow = max(footprint.bytesPerRow, 1), largest = max(footprint.largestBufferPerRow, 1)
        let memoryRows = min(budget.totalBytes / perRow, budget.bufferBytes / largest)
        guard memoryRows >= 1 else {
            throw LSTMKitError.outOfMemory(bytes: perRow, device: device.description,
                                           reason: "one sample's activations (\(perRow) bytes, largest buffer \(largest)) exceed the memory free for a batch (\(budget.totalBytes) bytes, one buffer at most \(budget.bufferBytes))")
        }
        var rows: Int
        if let info = device.openCL?.info, info.isGPU || info.isAccelerator {
            rows = openCLMaxRows
        } else {
            let cores = threads ?? device.openCL?.info.computeUnits ?? CPUWorkerPool.shared.threads
            let (l2, o) = (caches.l2PerCore / 4).multipliedReportingOverflow(by: max(cores, 1))
            let cacheRows = (o ? Int.max : l2) / max(footprint.cacheBytesPerRow, 1)
            rows = min(max(cpuMinRows, cacheRows / 8 * 8), cpuMaxRows)
        }
        rows = min(rows, memoryRows, max(samples, 1))
        return PredictBatching(rows: max(rows, 1))
    }

    /// `choose` for `model` on its device now.
    static func choose(samples: Int, model: Sequential) throws -> PredictBatching {
        let elementSize = model.device.precision == .float64 ? 8 : 4
        return try choose(samples: samples, footprint: try footprint(of: model, elementSize: elementSize), device: model.device,
                          budget: .of(model.device))
    }
}
