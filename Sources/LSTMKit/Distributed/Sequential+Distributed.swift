import Foundation

// Data-parallel training (`Sequential.fit` with more than one rank).
//
// `batchSize` is the global batch. Every rank shuffles the same order from the same seed; the G indices of a
// step are cut into `size` contiguous shards (rank r takes [r*G/size, (r+1)*G/size)), so an uneven last batch
// is split as evenly as it can be and a rank may get no sample of it. Each rank scales its loss and gradient as
// a part of the mean over the G samples (the loss kernel's scale is 1/(G*rows per sample), not 1/(its shard)),
// so the sum all-reduce of the flat gradients is exactly the gradient of the G-sample mean, up to the order of
// the floating-point additions. Then every rank takes the same optimizer step (a global-norm clip sees the
// reduced gradients), and the parameters stay identical without being exchanged again.

extension Distributed {
    /// Rank 0's logs on every rank (the keys must agree; they do, since the model and metrics agree).
    func agree(_ logs: [String: Double]) throws -> [String: Double] {
        let keys = logs.keys.sorted()
        var values = keys.map { logs[$0]! }
        try broadcast(&values, from: 0)
        return Dictionary(uniqueKeysWithValues: zip(keys, values))
    }

    /// Whether `flag` is true on any rank.
    func any(_ flag: Bool) throws -> Bool {
        var value = [flag ? 1.0 : 0]
        try allReduce(&value, .max)
        return value[0] > 0
    }
}

extension Sequential {
    /// What every rank must agree on before training together: the architecture, the parameter and optimizer
    /// state sizes, the data sizes and the options that decide the number of steps.
    func trainingFingerprint(batchSize: Int, trainCount: Int, validationCount: Int, epochs: Int, shuffle: Bool, seed: UInt64) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let specJSON = (try? encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        let sizes = parameterBuffers.map { "\($0.parameters.count)" }.joined(separator: ",")
        var optimizerText = "none"
        if let optimizer {
            let states = parameterBuffers.map { optimizer.state[ObjectIdentifier($0.parameters)] == nil ? "0" : "\(optimizer.stateCount)" }
            optimizerText = "\(type(of: optimizer)) lr \(optimizer.learningRate) state [\(states.joined(separator: ","))]"
        }
        return "model \(specJSON) parameters [\(sizes)] \(device.precision) optimizer \(optimizerText) loss \(String(describing: loss)) "
            + "metrics \(metrics.map(\.rawValue)) samples \(trainCount)+\(validationCount) batch \(batchSize) epochs \(epochs) shuffle \(shuffle) seed \(seed)"
    }

    /// Checks that the ranks agree, then gives every rank rank 0's parameters and optimizer state.
    func synchronizeForTraining(_ world: Distributed, batchSize: Int, trainCount: Int, validationCount: Int,
                                epochs: Int, shuffle: Bool, seed: UInt64) throws {
        let fingerprint = trainingFingerprint(batchSize: batchSize, trainCount: trainCount, validationCount: validationCount,
                                              epochs: epochs, shuffle: shuffle, seed: seed)
        try world.requireAgreement(fingerprint, what: "the model, the data sizes or the training options")
        guard batchSize >= world.size else {
            throw DistributedError.badSetup(rank: world.rank, reason: "the global batch size \(batchSize) is smaller than the \(world.size) ranks: each rank needs at least one sample per step")
        }
        try world.broadcast(parameterBuffers.map(\.parameters), from: 0)
        guard let optimizer else { throw LSTMKitError.notCompiled }
        var iterations = [Double(optimizer.iterations)]
        try world.broadcast(&iterations, from: 0)
        optimizer.iterations = Int(iterations[0])
        var stateTensors: [Tensor] = []
        for b in parameterBuffers {
            guard let state = optimizer.state[ObjectIdentifier(b.parameters)] else { continue }
            stateTensors += state.map { Tensor(shape: [b.parameters.count], view: BufferView($0), device: device) }
        }
        try world.broadcast(stateTensors, from: 0)
    }

    /// The shard of a step's global batch that `rank` trains on.
    static func shard(_ count: Int, rank: Int, size: Int) -> Range<Int> { (rank * count / size)..<((rank + 1) * count / size) }

    /// One data-parallel step: this rank's shard forward and backward, the all-reduce of the gradients and of
    /// the loss and metric sums, then the optimizer step. Returns the global batch's statistics.
    func distributedTrainStep(_ world: Distributed, _ data: DeviceData, _ indices: [Int], epoch: Int, step: Int) throws -> BatchStats {
        guard let optimizer else { throw LSTMKitError.notCompiled }
        let mine = Self.shard(indices.count, rank: world.rank, size: world.size)
        var local: BatchStats
        if mine.isEmpty {
            for b in parameterBuffers { try device.backend.fill(b.gradients.view, count: b.gradients.count, value: 0) }
            local = BatchStats(loss: 0, metrics: metrics.map { _ in (0, 0) }, samples: 0)
        } else {
            let (xb, yb) = try batch(data, Array(indices[mine]))
            // A masked per-step output is averaged over the valid steps of the whole (global) batch.
            local = try computeGradients(xb, yb!, epoch: epoch, step: step, globalSamples: indices.count,
                                         globalValidSteps: data.lengths.map { l in indices.reduce(0) { $0 + l[$1] } })
        }
        try world.allReduce(parameterBuffers.map(\.gradients), .sum)
        var sums = [local.loss] + local.metrics.flatMap { [$0.sum, $0.divisor] }
        try world.allReduce(&sums, .sum)
        let global = BatchStats(loss: sums[0], metrics: (0..<metrics.count).map { (sums[1 + 2 * $0], sums[2 + 2 * $0]) }, samples: indices.count)
        guard global.loss.isFinite else { throw LSTMKitError.nonFiniteLoss(epoch: epoch, step: step, value: global.loss) }
        try optimizer.step([self])
        return global
    }

    /// `evaluate` with the samples split over the ranks and the sums reduced: the same logs on every rank.
    func distributedEvaluate(_ world: Distributed, _ data: DeviceData, batchSize: Int) throws -> [String: Double] {
        let mine = Self.shard(data.count, rank: world.rank, size: world.size)
        var sums = [Double](repeating: 0, count: 2 + 2 * metrics.count)  // loss * samples, samples, (sum, divisor) per metric
        for start in stride(from: mine.lowerBound, to: mine.upperBound, by: batchSize) {
            let (xb, yb) = try batch(data, Array(start..<min(start + batchSize, mine.upperBound)))
            let stats = try lossAndMetrics(output: try forward(xb, training: false), target: yb!).0
            sums[0] += stats.loss * Double(stats.samples)
            sums[1] += Double(stats.samples)
            for (i, m) in stats.metrics.enumerated() { sums[2 + 2 * i] += m.sum; sums[3 + 2 * i] += m.divisor }
        }
        try world.allReduce(&sums, .sum)
        var result = ["loss": sums[0] / sums[1]]
        for (i, metric) in metrics.enumerated() { result[metric.rawValue] = metric.finalize(sums[2 + 2 * i] / sums[3 + 2 * i]) }
        return result
    }
}
