import Foundation

/// A stack of layers trained Keras-style: `compile`, `fit`, `evaluate`, `predict`.
///
///     let model = Sequential([Embedding(inputDim: 1000, outputDim: 32, maskZero: true),
///                             LSTMLayer(units: 64), Dense(units: 5, activation: .softmax)], device: try .opencl())
///     try model.compile(optimizer: Adam(), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
///     let history = try model.fit(x: tokens, y: labels, epochs: 10, batchSize: 32, validationSplit: 0.2)
///
/// One training step (`trainStep`) runs entirely on the device: the batch is gathered from the dataset
/// uploaded once, then forward, the fused loss, backward and the fused optimizer update. The only reads
/// are the per-sample losses and metrics (a few floats) for the progress line and the NaN check.
/// A `Sequential` is itself a `Layer`, so models nest; custom layers conform to `Layer`.
public final class Sequential: Layer {
    public private(set) var layers: [Layer]
    public let device: Device
    public let seed: UInt64
    /// Per-sample input and output shapes (without the batch), known once built.
    public private(set) var inputShape: [Int]?
    public private(set) var outputShape: [Int]?
    /// Each layer's per-sample output shape, known once built.
    public private(set) var layerOutputShapes: [[Int]] = []
    public private(set) var optimizer: Optimizer?
    public private(set) var loss: Loss?
    public private(set) var metrics: [Metric] = []
    /// Set by a callback to end `fit` after the current epoch.
    public var stopTraining = false

    public init(_ layers: [Layer] = [], device: Device = .cpu, seed: UInt64 = 0) {
        self.layers = layers
        self.device = device
        self.seed = seed
    }

    /// Appends a layer (before the model is built).
    public func add(_ layer: Layer) throws {
        guard inputShape == nil else {
            throw LSTMKitError.invalidArgument(name: "add", value: "\(type(of: layer))", reason: "the model is already built")
        }
        layers.append(layer)
    }

    // MARK: Layer

    public var parameterBuffers: [ParameterBuffer] { layers.flatMap(\.parameterBuffers) }
    /// Parameters named "{layer index}.{name}", as PyTorch's `nn.Sequential` state dict.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        layers.enumerated().flatMap { i, layer in layer.namedParameters.map { ("\(i).\($0.name)", $0.tensor) } }
    }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        guard device == self.device else {
            throw LSTMKitError.deviceMismatch(what: "Sequential.build", expected: self.device.description, got: device.description)
        }
        if let built = self.inputShape {
            guard built == inputShape else {
                throw LSTMKitError.shapeMismatch(what: "model input (per sample)", expected: "\(built)", got: inputShape)
            }
            return outputShape!
        }
        guard !layers.isEmpty else { throw LSTMKitError.invalidArgument(name: "Sequential", value: "[]", reason: "has no layers") }
        var shape = inputShape
        var shapes: [[Int]] = []
        for (i, layer) in layers.enumerated() {
            shape = try layer.build(inputShape: shape, device: device, seed: seed &+ UInt64(i) &* 0x9E37_79B9)
            shapes.append(shape)
        }
        layerOutputShapes = shapes
        self.inputShape = inputShape
        outputShape = shape
        return shape
    }

    /// Builds the layers for samples of `inputShape` (without the batch dimension).
    public func build(inputShape: [Int]) throws { _ = try build(inputShape: inputShape, device: device, seed: seed) }

    /// Builds the model from its first layer's `Input(shape:)` (Keras builds a model that starts with an Input
    /// at once); does nothing when it is built already. Without an `Input` first, the shape comes from `fit`.
    public func build() throws {
        guard inputShape == nil else { return }
        guard let input = layers.first as? Input else {
            throw LSTMKitError.invalidArgument(name: "build()", value: "no Input(shape:)",
                                               reason: "start the model with Input(shape:) or call build(inputShape:)")
        }
        try build(inputShape: input.shape)
    }

    public func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
        var value = x
        for layer in layers { value = try layer.forward(value, training: training) }
        return value
    }

    public func backward(_ dy: Tensor) throws -> Tensor? { try backward(dy, from: layers.count, needsInputGradient: true) }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        try backward(dy, from: layers.count, needsInputGradient: needsInputGradient)
    }

    /// Backpropagates `dy` (the gradient of the output of layer `end - 1`) through layers `end-1 ... 0`.
    /// Without `needsInputGradient`, the layers up to the first one with parameters are told that nobody
    /// needs their input gradient (an LSTM first layer then skips its dX gemm).
    private func backward(_ dy: Tensor, from end: Int, needsInputGradient: Bool) throws -> Tensor? {
        let firstTrainable = needsInputGradient ? -1 : layers.firstIndex { !$0.parameterBuffers.isEmpty } ?? layers.count
        var grad: Tensor? = dy
        for (index, layer) in layers[..<end].enumerated().reversed() {
            guard let g = grad else { break }
            grad = try layer.backward(g, needsInputGradient: index > firstTrainable)
        }
        return grad
    }

    // MARK: Training

    /// Sets the optimizer, the loss and the metrics.
    public func compile(optimizer: Optimizer, loss: Loss, metrics: [Metric] = []) {
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
    }

    /// The output layer whose activation the loss absorbs (softmax/sigmoid + cross-entropy), if any.
    private var fusedOutputLayer: Dense? {
        let last = layers.last
        let dense = (last as? Dense) ?? (last as? TimeDistributed)?.inner as? Dense
        guard let dense, let act = loss?.fusableActivation, dense.activation == act else { return nil }
        return dense
    }

    /// Sums over one batch: the loss (already scaled to a mean) and each metric's row sum, with its divisor.
    struct BatchStats {
        var loss: Double
        var metrics: [(sum: Double, divisor: Double)]
        var samples: Int
    }

    /// The valid steps of a per-step output `[B, T, C]` that a mask reached (Keras's mask of the model's output):
    /// a 0/1 weight per row of the B*T rows and the number of valid rows; nil for an unmasked or per-sample output.
    static func outputStepMask(_ output: MaskedTensor) -> (weights: [Float], valid: Int)? {
        let shape = output.tensor.shape
        guard shape.count == 3, let lengths = output.lengths, lengths.count == shape[0] else { return nil }
        let (B, T) = (shape[0], shape[1])
        let starts = output.starts ?? [Int](repeating: 0, count: B)
        guard starts.count == B, (0..<B).allSatisfy({ starts[$0] >= 0 && lengths[$0] >= 0 && starts[$0] + lengths[$0] <= T }) else { return nil }
        var weights = [Float](repeating: 0, count: B * T)
        for b in 0..<B { for t in starts[b]..<(starts[b] + lengths[b]) { weights[b * T + t] = 1 } }
        return (weights, lengths.reduce(0, +))
    }

    /// Loss, gradient w.r.t. the prediction (or the fused layer's logits) and metrics for one batch.
    /// With `globalSamples` (data-parallel training), the loss and gradient are scaled as parts of the mean
    /// over `globalSamples` samples, so that summing them over the ranks gives the global batch's.
    ///
    /// When a mask reaches a per-step output `[B, T, C]` (`output.lengths`, e.g. Embedding(maskZero:) -> LSTM with
    /// returnSequences -> Dense), the loss and the metrics are Keras's: each step's loss weighted by its mask and
    /// averaged over the valid steps only, sum(l_bt * m_bt) / sum(m_bt) (`globalValidSteps`: the valid steps of the
    /// whole data-parallel batch); the gradient is 0 at padded steps. An unmasked output is reduced as before.
    func lossAndMetrics(output: MaskedTensor, target: Tensor, globalSamples: Int? = nil,
                        globalValidSteps: Int? = nil) throws -> (BatchStats, gradient: Tensor, fused: Dense?) {
        guard let loss else { throw LSTMKitError.notCompiled }
        let prediction = output.tensor
        let be = device.training
        let cols = prediction.shape.last!, rows = prediction.count / cols
        let fused = fusedOutputLayer
        // Only a mask with a padded step changes anything (all-valid weights are all 1: the unmasked reduction).
        let stepMask = Self.outputStepMask(output).flatMap { $0.valid < rows ? $0 : nil }
        let scaleRows: Int
        if let stepMask {
            scaleRows = globalValidSteps ?? stepMask.valid
        } else {
            scaleRows = globalSamples.map { rows / prediction.shape[0] * $0 } ?? rows
        }
        let (kind, scale) = loss.kernel(fused: fused != nil, rows: scaleRows, cols: cols)
        let input = fused?.logits ?? prediction
        let rowLoss = try be.allocate(rows)
        var grad = try be.allocate(rows * cols)
        try be.lossRows(kind, rows: rows, cols: cols, pred: input.view, target: target.view, scale: scale, rowLoss: rowLoss, grad: BufferView(grad))
        if let stepMask {
            // The padded steps' gradients to 0: one upload of the 0/1 weights per batch, multiplied in on the device.
            var weights = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows where stepMask.weights[r] != 0 { for c in 0..<cols { weights[r * cols + c] = 1 } }
            let w = try Tensor(shape: [rows * cols], values: weights, device: device)
            let masked = try be.allocate(rows * cols)
            try be.mul(count: rows * cols, x: BufferView(grad), y: w.view, out: BufferView(masked))
            grad = masked
        }
        var metricBuffers: [(DeviceBuffer, Double)] = []
        for metric in metrics {
            let (mk, divisor) = metric.kernel(loss: loss, rows: stepMask?.valid ?? rows, cols: cols)
            let out = try be.allocate(rows)
            try be.metricRows(mk, rows: rows, cols: cols, pred: prediction.view, target: target.view, out: out)
            metricBuffers.append((out, divisor))
        }
        // Row sums (the losses and metrics are read back anyway): the valid steps' only when masked.
        func sum(_ values: [Double]) -> Double {
            guard let stepMask else { return values.reduce(0, +) }
            var s = 0.0
            for (r, v) in values.enumerated() where stepMask.weights[r] != 0 { s += v }
            return s
        }
        let lossValue = sum(try be.readDoubles(BufferView(rowLoss), count: rows)) * scale
        let metricValues = try metricBuffers.map { (sum(try be.readDoubles(BufferView($0.0), count: rows)), $0.1) }
        let stats = BatchStats(loss: lossValue, metrics: metricValues, samples: prediction.shape[0])
        return (stats, Tensor(shape: prediction.shape, view: BufferView(grad), device: device), fused)
    }

    /// One training step: forward, loss, backward, optimizer update. A non-finite loss throws before
    /// anything is updated.
    func trainStep(_ x: MaskedTensor, _ y: Tensor, epoch: Int, step: Int) throws -> BatchStats {
        guard let optimizer else { throw LSTMKitError.notCompiled }
        let stats = try computeGradients(x, y, epoch: epoch, step: step)
        try optimizer.step([self])
        return stats
    }

    /// Zeroes the gradients, then forward, loss and backward: afterwards `parameterBuffers` hold the
    /// gradients of the batch's mean loss. Throws `.nonFiniteLoss` (before backward) for a NaN or infinite loss.
    func computeGradients(_ x: MaskedTensor, _ y: Tensor, epoch: Int = 1, step: Int = 1, globalSamples: Int? = nil,
                          globalValidSteps: Int? = nil) throws -> BatchStats {
        for b in parameterBuffers { try device.backend.fill(b.gradients.view, count: b.gradients.count, value: 0) }
        let output = try forward(x, training: true)
        let (stats, gradient, fused) = try lossAndMetrics(output: output, target: y, globalSamples: globalSamples,
                                                          globalValidSteps: globalValidSteps)
        // Data-parallel: the global loss is checked after the reduction, so that every rank throws.
        guard stats.loss.isFinite || globalSamples != nil else { throw LSTMKitError.nonFiniteLoss(epoch: epoch, step: step, value: stats.loss) }
        if let fused {
            let below = try fused.backward(gradient, preActivation: true,
                                           needsInputGradient: layers.dropLast().contains { !$0.parameterBuffers.isEmpty })
            if let below { _ = try backward(below, from: layers.count - 1, needsInputGradient: false) }
        } else {
            _ = try backward(gradient, from: layers.count, needsInputGradient: false)
        }
        return stats
    }

    /// Trains on one batch (Keras `train_on_batch`) and returns the loss and metrics.
    @discardableResult
    public func trainOnBatch(x: DataArray, y: DataArray) throws -> [String: Double] {
        let data = try prepare(x: x, y: y, what: "trainOnBatch")
        let stats = try trainStep(data.masked(data.x), data.y!, epoch: 1, step: 1)
        return logs(from: [stats], prefix: "")
    }

    /// x and y on the device, checked, with the sequence lengths of a masking embedding.
    struct DeviceData {
        let x: Tensor
        let y: Tensor?
        let lengths: [Int]?
        /// The first valid step of each sample (left padding), nil when all start at 0.
        var starts: [Int]? = nil
        var count: Int { x.shape[0] }
        /// `t` with the whole dataset's mask.
        func masked(_ t: Tensor) -> MaskedTensor { var m = MaskedTensor(t, lengths: lengths); m.starts = starts; return m }
    }

    /// Validates x (and y) against the model, builds it if needed, and uploads both once.
    func prepare(x: DataArray, y: DataArray?, what: String) throws -> DeviceData {
        let (mask, y) = try validate(x: x, y: y, what: what)
        return DeviceData(x: try Tensor(shape: x.shape, values: x.values, device: device),
                          y: try y.map { try Tensor(shape: $0.shape, values: $0.values, device: device) },
                          lengths: mask?.lengths, starts: mask?.starts)
    }

    /// Validates x (and y) against the model and builds it if needed: the mask of a masking first layer (computed
    /// once per dataset) and y as the loss reads it (`lenientTarget`). Uploads nothing.
    func validate(x: DataArray, y: DataArray?, what: String) throws -> (mask: SequenceMask?, y: DataArray?) {
        guard x.count > 0 else { throw LSTMKitError.emptyDataset("\(what): x has no samples") }
        try build(inputShape: Array(x.shape.dropFirst()))
        // The mask of a masking first layer, computed once per dataset (the layers skip their read-back then).
        var mask: SequenceMask? = nil
        let first = layers.first { !($0 is Input) }
        if let embedding = first as? Embedding {
            mask = try embedding.validate(ids: x.values, rows: x.count, steps: x.sampleSize)
        } else if let masking = first as? Masking, x.shape.count == 3 {
            mask = try masking.mask(values: x.values, rows: x.count, steps: x.shape[1], features: x.shape[2])
        }
        var checked: DataArray? = nil
        if let given = y {
            guard let loss else { throw LSTMKitError.notCompiled }
            guard given.count == x.count else {
                throw LSTMKitError.emptyDataset("\(what): x has \(x.count) samples but y has \(given.count)")
            }
            let y = try lenientTarget(given, samples: x.count, loss: loss)
            if loss.isSparse {
                let classes = outputShape!.last!
                if let bad = y.values.firstIndex(where: { !($0 >= 0 && $0 < Float(classes) && $0 == $0.rounded()) }) {
                    throw LSTMKitError.invalidArgument(name: "class id of sample \(bad / max(y.sampleSize, 1))", value: "\(y.values[bad])",
                                                       reason: "must be a whole number in 0..<\(classes)")
                }
            }
            checked = y
        }
        return (mask, checked)
    }

    /// The targets as the loss reads them, accepting what Keras accepts: `[N]` (or `[N, T]`) targets of a model
    /// whose output has one unit get that unit's axis. A shape the loss refuses is an error that names the likely
    /// fix (class ids with the categorical loss, one-hot rows with the sparse one).
    func lenientTarget(_ y: DataArray, samples: Int, loss: Loss) throws -> DataArray {
        let prediction = [samples] + outputShape!
        var y = y
        if !loss.isSparse, prediction.last == 1, y.shape == Array(prediction.dropLast()) {
            y = try DataArray(shape: y.shape + [1], values: y.values)
        }
        do {
            try loss.checkTarget(prediction: prediction, target: y.shape)
        } catch LSTMKitError.shapeMismatch(let what, let expected, let got) {
            var hint = ""
            if case .categoricalCrossentropy = loss, got == Array(prediction.dropLast()) || got == Array(prediction.dropLast()) + [1] {
                hint = "; these look like class ids: use .sparseCategoricalCrossentropy for class ids (or one-hot encode them)"
            } else if loss.isSparse, got == prediction {
                hint = "; these look like one-hot rows: use .categoricalCrossentropy for one-hot targets"
            }
            throw LSTMKitError.shapeMismatch(what: what, expected: expected + hint, got: got)
        }
        return y
    }

    /// Rows `indices` of a device dataset, gathered on the device.
    func batch(_ data: DeviceData, _ indices: [Int]) throws -> (MaskedTensor, Tensor?) {
        let be = device.training
        let idx = try be.allocateIndices(indices.map { Int32($0) })
        func gather(_ t: Tensor) throws -> Tensor {
            let size = t.count / t.shape[0]
            let out = try be.allocate(indices.count * size)
            try be.gatherRows(count: indices.count, rowSize: size, indices: idx, src: t.view.buffer, dst: out)
            return Tensor(shape: [indices.count] + t.shape.dropFirst(), view: BufferView(out), device: device)
        }
        var x = MaskedTensor(try gather(data.x), lengths: data.lengths.map { l in indices.map { l[$0] } })
        x.starts = data.starts.map { s in indices.map { s[$0] } }
        return (x, try data.y.map(gather))
    }

    func logs(from batches: [BatchStats], prefix: String) -> [String: Double] {
        let samples = Double(batches.reduce(0) { $0 + $1.samples })
        // Sample-weighted mean of the batch means (as Keras averages over an epoch).
        var result = [prefix + "loss": batches.reduce(0) { $0 + $1.loss * Double($1.samples) } / samples]
        for (i, metric) in metrics.enumerated() {
            let sum = batches.reduce(0) { $0 + $1.metrics[i].sum }, divisor = batches.reduce(0) { $0 + $1.metrics[i].divisor }
            result[prefix + metric.rawValue] = metric.finalize(sum / divisor)
        }
        return result
    }

    /// Trains the model (Keras `fit`).
    /// - Parameters:
    ///   - x, y: samples (first dimension) and targets (class ids for sparse cross-entropy).
    ///   - batchSize: 1...number of training samples (default 32, or all samples when fewer); the last batch of
    ///     an epoch may be smaller.
    ///   - validationSplit: the fraction of samples, taken from the end before shuffling, used for validation.
    ///   - validationData: explicit validation samples (instead of a split).
    ///   - shuffle: reshuffle the training samples every epoch, with a generator seeded by `seed`.
    ///   - verbose: 0 silent, 1 a progress bar per epoch (plain lines when not on a terminal), 2 one line per epoch.
    ///   - distributed: the ranks to train with, data-parallel (default: `Distributed.world()`, i.e. all ranks
    ///     under mpirun, else one). `batchSize` is then the global batch, split over the ranks; see
    ///     `Sequential+Distributed.swift`. Only rank 0 prints progress.
    /// - Returns: the loss and metrics of every epoch.
    @discardableResult
    public func fit(x: DataArray, y: DataArray, epochs: Int = 1, batchSize: Int? = nil, validationSplit: Double = 0,
                    validationData: (x: DataArray, y: DataArray)? = nil, shuffle: Bool = true, seed: UInt64? = nil,
                    callbacks: [Callback] = [], verbose: Int = 1, distributed: Distributed? = nil) throws -> History {
        let world = try distributed ?? Distributed.world()
        guard optimizer != nil, loss != nil else { throw LSTMKitError.notCompiled }
        guard epochs >= 1 else { throw LSTMKitError.invalidArgument(name: "epochs", value: "\(epochs)", reason: "must be at least 1") }
        guard validationSplit >= 0, validationSplit < 1 else {
            throw LSTMKitError.invalidArgument(name: "validationSplit", value: "\(validationSplit)", reason: "must be in [0, 1)")
        }
        guard x.count > 0 else { throw LSTMKitError.emptyDataset("fit: x has no samples") }
        guard y.count == x.count else { throw LSTMKitError.emptyDataset("fit: x has \(x.count) samples but y has \(y.count)") }
        let validationCount = validationData == nil ? Int(Double(x.count) * validationSplit) : 0
        let trainCount = x.count - validationCount
        guard trainCount > 0 else { throw LSTMKitError.emptyDataset("fit: validationSplit \(validationSplit) leaves no training samples") }
        let batchSize = batchSize ?? min(32, trainCount)
        guard batchSize >= 1, batchSize <= trainCount else {
            throw LSTMKitError.invalidArgument(name: "batchSize", value: "\(batchSize)", reason: "must be in 1...\(trainCount) (the number of training samples)")
        }
        let train = try prepare(x: x.rows(0..<trainCount), y: y.rows(0..<trainCount), what: "fit")
        var validation: DeviceData? = nil
        if let v = validationData {
            validation = try prepare(x: v.x, y: v.y, what: "validationData")
        } else if validationCount > 0 {
            validation = try prepare(x: x.rows(trainCount..<x.count), y: y.rows(trainCount..<x.count), what: "validation split")
        }

        let shuffleSeed = seed ?? self.seed ^ 0x5EED
        if world.size > 1 {
            try synchronizeForTraining(world, batchSize: batchSize, trainCount: trainCount, validationCount: validation?.count ?? 0,
                                       epochs: epochs, shuffle: shuffle, seed: shuffleSeed)
        }
        var generator = SeededGenerator(seed: shuffleSeed)
        var history = History()
        let progress = ProgressPrinter(verbose: world.rank == 0 ? verbose : 0, epochs: epochs)
        let steps = (trainCount + batchSize - 1) / batchSize
        stopTraining = false
        for callback in callbacks { try callback.onTrainBegin(model: self) }
        for epoch in 1...epochs {
            var order = Array(0..<trainCount)
            if shuffle { order.shuffle(using: &generator) }
            progress.beginEpoch(epoch, steps: steps)
            var batches: [BatchStats] = []
            for step in 0..<steps {
                let indices = Array(order[(step * batchSize)..<min((step + 1) * batchSize, trainCount)])
                if world.size > 1 {
                    batches.append(try distributedTrainStep(world, train, indices, epoch: epoch, step: step + 1))
                } else {
                    let (xb, yb) = try batch(train, indices)
                    batches.append(try trainStep(xb, yb!, epoch: epoch, step: step + 1))
                }
                progress.step(step + 1, logs: logs(from: batches, prefix: ""))
                if !callbacks.isEmpty {
                    let stepLogs = logs(from: [batches.last!], prefix: "")
                    for callback in callbacks { try callback.onBatchEnd(epoch: epoch, step: step + 1, logs: stepLogs, model: self) }
                }
            }
            var epochLogs = logs(from: batches, prefix: "")
            if let validation {
                let validationLogs = world.size > 1 ? try distributedEvaluate(world, validation, batchSize: batchSize)
                                                    : try evaluate(validation, batchSize: batchSize)
                epochLogs.merge(validationLogs.mapKeys { "val_" + $0 }) { $1 }
            }
            // Every rank takes its decisions (early stopping, checkpoints) from rank 0's numbers.
            if world.size > 1 { epochLogs = try world.agree(epochLogs) }
            history.epochs.append(epochLogs)
            progress.endEpoch(logs: epochLogs)
            for callback in callbacks { try callback.onEpochEnd(epoch: epoch, logs: epochLogs, model: self) }
            if world.size > 1 { stopTraining = try world.any(stopTraining) }
            if stopTraining { break }
        }
        for callback in callbacks { try callback.onTrainEnd(model: self) }
        return history
    }

    /// Loss and metrics on a dataset already on the device (`fit`'s validation), in batches of `batchSize`.
    func evaluate(_ data: DeviceData, batchSize: Int) throws -> [String: Double] {
        var batches: [BatchStats] = []
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let (xb, yb) = try batch(data, Array(start..<min(start + batchSize, data.count)))
            batches.append(try lossAndMetrics(output: try inferenceForward(xb), target: yb!).0)
        }
        return logs(from: batches, prefix: "")
    }

    /// A copy of every parameter (for `EarlyStopping(restoreBestWeights:)`).
    func snapshotParameters() throws -> [Tensor] {
        try parameterBuffers.map { b in
            let copy = try device.backend.allocate(b.parameters.count)
            try device.backend.copy(b.parameters.view, to: BufferView(copy), count: b.parameters.count)
            return Tensor(shape: b.parameters.shape, view: BufferView(copy), device: device)
        }
    }

    func restoreParameters(_ snapshot: [Tensor]) throws {
        for (b, s) in zip(parameterBuffers, snapshot) { try device.backend.copy(s.view, to: b.parameters.view, count: s.count) }
    }

    /// Clears the carried state of every stateful recurrent layer.
    public func resetStates() {
        for layer in layers {
            (layer as? RecurrentLayer)?.resetStates()
            (layer as? Bidirectional)?.resetStates()
            (layer as? Sequential)?.resetStates()
        }
    }

    /// A Keras-like summary: each layer, its output shape (`None` for the batch) and parameter count. A model that
    /// starts with `Input(shape:)` is built first, so the summary is complete before `fit`; an unbuilt model shows
    /// "?" shapes and 0 parameters.
    public func summary() -> String {
        if inputShape == nil, layers.first is Input { try? build() }
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0) }
        var lines = [pad("Layer", 26) + pad("Output shape", 22) + "Parameters"]
        for (i, layer) in layers.enumerated() {
            let n = layer.parameterBuffers.reduce(0) { $0 + $1.parameters.count }
            let shape = i < layerOutputShapes.count ? "(" + (["None"] + layerOutputShapes[i].map(String.init)).joined(separator: ", ") + ")" : "?"
            lines.append(pad("\(i): \(AnyLayerConfig(layer: layer).className)", 26) + pad(shape, 22) + "\(n)")
        }
        lines.append("Total parameters: \(parameterBuffers.reduce(0) { $0 + $1.parameters.count })")
        return lines.joined(separator: "\n")
    }
}

extension Dictionary where Key == String {
    func mapKeys(_ f: (String) -> String) -> [String: Value] { Dictionary(uniqueKeysWithValues: map { (f($0.key), $0.value) }) }
}
