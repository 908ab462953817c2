import Foundation

/// Base of the optimizers. One `step` clips the gradients (by value, and by global norm as
/// `torch.nn.utils.clip_grad_norm_`), adds weight decay and updates every parameter buffer with one fused
/// kernel per buffer; the global norm is reduced on the device, so nothing is read back.
public class Optimizer {
    /// The base learning rate (the schedule, if any, scales it per step).
    public var learningRate: Double
    public var schedule: LearningRateSchedule?
    /// L2 penalty added to the gradient (decoupled for `Adam(decoupledWeightDecay: true)`, i.e. AdamW).
    public var weightDecay: Double
    /// Clip the global gradient norm of all parameters to this value (PyTorch `clip_grad_norm_`).
    public var clipNorm: Double?
    /// Clip each gradient element to [-clipValue, clipValue].
    public var clipValue: Double?
    /// Steps taken so far.
    public internal(set) var iterations = 0

    /// Per-buffer state (momentum, moments), keyed by the parameter buffer.
    var state: [ObjectIdentifier: [DeviceBuffer]] = [:]

    init(learningRate: Double, weightDecay: Double, clipNorm: Double?, clipValue: Double?, schedule: LearningRateSchedule?) throws {
        guard learningRate > 0 else { throw LSTMKitError.invalidArgument(name: "learningRate", value: "\(learningRate)", reason: "must be > 0") }
        guard weightDecay >= 0 else { throw LSTMKitError.invalidArgument(name: "weightDecay", value: "\(weightDecay)", reason: "must be >= 0") }
        if let c = clipNorm, c <= 0 { throw LSTMKitError.invalidArgument(name: "clipNorm", value: "\(c)", reason: "must be > 0") }
        if let c = clipValue, c <= 0 { throw LSTMKitError.invalidArgument(name: "clipValue", value: "\(c)", reason: "must be > 0") }
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        self.clipValue = clipValue
        self.schedule = schedule
    }

    /// The learning rate the next step will use.
    public var currentLearningRate: Double { schedule?.rate(base: learningRate, step: iterations) ?? learningRate }

    /// Updates the parameters of `owners` from their accumulated gradients. Returns the global gradient norm before
    /// clipping (`clip_grad_norm_`'s return value), left on the device until `value()` is asked for.
    @discardableResult
    public func step(_ owners: [ParameterOwner]) throws -> GradientNorm {
        let buffers = owners.flatMap(\.parameterBuffers)
        guard let device = buffers.first?.parameters.device else { return GradientNorm(squares: nil, count: 0, device: nil) }
        let be = device.training
        var clip = GradientClip(value: clipValue ?? 0, maxNorm: clipNorm ?? 0)
        // One reduction kernel per buffer (the update kernels read the same norms when clipping by norm).
        let norms = try be.allocate(buffers.count)
        for (i, b) in buffers.enumerated() { try be.sumSquares(count: b.gradients.count, x: b.gradients.view, out: norms, index: i) }
        if clipNorm != nil {
            clip.norms = norms
            clip.normCount = buffers.count
        }
        let lr = currentLearningRate
        iterations += 1
        for b in buffers {
            let key = ObjectIdentifier(b.parameters)
            if state[key] == nil { state[key] = try (0..<stateCount).map { _ in try be.allocateZeros(b.parameters.count) } }
            try update(b, state: state[key]!, lr: lr, clip: clip, backend: be)
        }
        return GradientNorm(squares: norms, count: buffers.count, device: device)
    }

    /// Sets the gradients of `owners` to zero.
    public func zeroGrad(_ owners: [ParameterOwner]) throws {
        for b in owners.flatMap(\.parameterBuffers) {
            try b.gradients.device.backend.fill(b.gradients.view, count: b.gradients.count, value: 0)
        }
    }

    /// The optimizer's state for `buffers` (in order) as named tensors: "iterations" and "state.{buffer}.{k}".
    func stateEntries(for buffers: [ParameterBuffer]) throws -> [(name: String, entry: SafeTensors.Entry)] {
        var entries = [(name: "iterations", entry: SafeTensors.Entry(dtype: "F64", shape: [1], values: [Double(iterations)]))]
        for (i, b) in buffers.enumerated() {
            guard let state = state[ObjectIdentifier(b.parameters)] else { continue }
            for (k, s) in state.enumerated() {
                let values = try b.parameters.device.backend.readDoubles(BufferView(s), count: b.parameters.count)
                entries.append((name: "state.\(i).\(k)", entry: SafeTensors.Entry(shape: [b.parameters.count], values: values)))
            }
        }
        return entries
    }

    /// The largest step count `loadState` accepts (2^53: every integer up to it is exact in the F64 it is stored as).
    static let maxIterations = 1 << 53

    /// Restores what `stateEntries` wrote, for the same parameter buffers. Everything is checked before anything
    /// changes, in a fixed order: the names (exactly "iterations" and "state.{buffer}.{k}" with the buffer and k
    /// in range, in canonical decimal), the step count (an integer in 0...2^53), then each buffer's tensors
    /// (all of its k present, shape [count], finite unless `allowNonFinite`).
    func loadState(_ entries: [String: SafeTensors.Entry], for buffers: [ParameterBuffer], allowNonFinite: Bool = false,
                   source: String? = nil) throws {
        let suffix = source.map { " in \($0)" } ?? ""
        func fail(_ tensor: String, _ reason: String) -> LSTMKitError { .stateDict(tensor: tensor, reason: reason + suffix) }
        var present = Set<Int>()
        for name in entries.keys.sorted() where name != "iterations" {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "state", let i = Int(parts[1]), let k = Int(parts[2]),
                  "\(i)" == parts[1], "\(k)" == parts[2] else {
                throw fail(name, "is not an optimizer state tensor (expected \"iterations\" or \"state.{buffer}.{k}\")")
            }
            guard i >= 0, i < buffers.count else {
                throw fail(name, "the optimizer state has more parameter buffers than the model (\(buffers.count))")
            }
            guard k >= 0, k < stateCount else {
                throw fail(name, "\(type(of: self)) keeps \(stateCount) state tensor\(stateCount == 1 ? "" : "s") per buffer: the state of another optimizer")
            }
            present.insert(i)
        }
        guard let stepsEntry = entries["iterations"] else { throw fail("iterations", "missing from the optimizer state") }
        guard stepsEntry.shape == [1], stepsEntry.values.count == 1 else {
            throw fail("iterations", "has shape \(stepsEntry.shape), expected [1]")
        }
        let steps = stepsEntry.values[0]
        guard steps.isFinite, steps >= 0, steps <= Double(Self.maxIterations), steps == steps.rounded(.towardZero) else {
            throw fail("iterations", "is \(steps), not a whole number of steps in 0...\(Self.maxIterations)")
        }
        for i in present.sorted() {
            let b = buffers[i]
            for k in 0..<stateCount {
                let name = "state.\(i).\(k)"
                guard let e = entries[name], e.shape == [b.parameters.count], e.values.count == b.parameters.count else {
                    throw fail(name, "missing, or not [\(b.parameters.count)]: the state of another optimizer or model")
                }
                if !allowNonFinite {
                    try SafeTensors.checkFinite(e.values, tensor: name, precision: b.parameters.device.precision, suffix: suffix)
                }
            }
        }
        var restored: [ObjectIdentifier: [DeviceBuffer]] = [:]
        for i in present.sorted() {
            let b = buffers[i], be = b.parameters.device.backend
            restored[ObjectIdentifier(b.parameters)] = try (0..<stateCount).map { k in
                let buffer = try be.allocate(b.parameters.count)
                try be.write(entries["state.\(i).\(k)"]!.values, to: BufferView(buffer))
                return buffer
            }
        }
        state = restored
        iterations = Int(steps)
    }

    var stateCount: Int { 0 }
    func update(_ b: ParameterBuffer, state: [DeviceBuffer], lr: Double, clip: GradientClip, backend: Backend & TrainingBackend) throws {}
}
