import Foundation

/// Anything with flat parameter buffers an optimizer can update (layers, models, the `LSTM` core).
public protocol ParameterOwner: AnyObject {
    var parameterBuffers: [ParameterBuffer] { get }
}

extension LSTM: ParameterOwner {
    public var parameterBuffers: [ParameterBuffer] { [ParameterBuffer(parameters: flatParameters, gradients: flatGradients)] }
}

/// A learning-rate schedule, evaluated at every optimizer step (as Keras schedules are).
public enum LearningRateSchedule: Codable, Equatable, Sendable {
    /// lr * gamma^(floor(step / stepSize))
    case step(stepSize: Int, gamma: Double)
    /// lr * gamma^step
    case exponential(gamma: Double)
    /// minimum + (lr - minimum) * (1 + cos(pi * min(step, totalSteps) / totalSteps)) / 2
    case cosine(totalSteps: Int, minimum: Double = 0)

    public func rate(base: Double, step: Int) -> Double {
        switch self {
        case let .step(size, gamma): return base * pow(gamma, Double(step / max(size, 1)))
        case let .exponential(gamma): return base * pow(gamma, Double(step))
        case let .cosine(total, minimum):
            let t = Double(min(step, total)) / Double(max(total, 1))
            return minimum + (base - minimum) * (1 + cos(.pi * t)) / 2
        }
    }
}

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

    /// Updates the parameters of `owners` from their accumulated gradients.
    public func step(_ owners: [ParameterOwner]) throws {
        let buffers = owners.flatMap(\.parameterBuffers)
        guard let device = buffers.first?.parameters.device else { return }
        let be = device.training
        var clip = GradientClip(value: clipValue ?? 0, maxNorm: clipNorm ?? 0)
        if clipNorm != nil {
            let norms = try be.allocate(buffers.count)
            for (i, b) in buffers.enumerated() { try be.sumSquares(count: b.gradients.count, x: b.gradients.view, out: norms, index: i) }
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

/// Stochastic gradient descent with momentum and Nesterov momentum, as `torch.optim.SGD` (dampening 0).
public final class SGD: Optimizer {
    public let momentum: Double
    public let nesterov: Bool
    public init(learningRate: Double = 0.01, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0,
                clipNorm: Double? = nil, clipValue: Double? = nil, schedule: LearningRateSchedule? = nil) throws {
        guard momentum >= 0 else { throw LSTMKitError.invalidArgument(name: "momentum", value: "\(momentum)", reason: "must be >= 0") }
        if nesterov && momentum == 0 { throw LSTMKitError.invalidArgument(name: "nesterov", value: "true", reason: "needs momentum > 0") }
        self.momentum = momentum
        self.nesterov = nesterov
        try super.init(learningRate: learningRate, weightDecay: weightDecay, clipNorm: clipNorm, clipValue: clipValue, schedule: schedule)
    }
    override var stateCount: Int { 1 }
    override func update(_ b: ParameterBuffer, state: [DeviceBuffer], lr: Double, clip: GradientClip, backend be: Backend & TrainingBackend) throws {
        try be.sgdUpdate(count: b.parameters.count, p: b.parameters.view.buffer, grad: b.gradients.view.buffer, velocity: state[0],
                         lr: lr, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay, clip: clip)
    }
}

/// Adam with PyTorch's formula and defaults (`torch.optim.Adam`); `decoupledWeightDecay` gives AdamW.
public final class Adam: Optimizer {
    public let beta1: Double, beta2: Double, epsilon: Double
    public let decoupledWeightDecay: Bool
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, decoupledWeightDecay: Bool = false,
                clipNorm: Double? = nil, clipValue: Double? = nil, schedule: LearningRateSchedule? = nil) throws {
        for (name, v) in [("beta1", beta1), ("beta2", beta2)] where !(v >= 0 && v < 1) {
            throw LSTMKitError.invalidArgument(name: name, value: "\(v)", reason: "must be in [0, 1)")
        }
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.decoupledWeightDecay = decoupledWeightDecay
        try super.init(learningRate: learningRate, weightDecay: weightDecay, clipNorm: clipNorm, clipValue: clipValue, schedule: schedule)
    }
    override var stateCount: Int { 2 }
    override func update(_ b: ParameterBuffer, state: [DeviceBuffer], lr: Double, clip: GradientClip, backend be: Backend & TrainingBackend) throws {
        let t = Double(iterations)  // already incremented: the first step is t = 1
        try be.adamUpdate(count: b.parameters.count, p: b.parameters.view.buffer, grad: b.gradients.view.buffer, m: state[0], v: state[1],
                          lr: lr, beta1: beta1, beta2: beta2, eps: epsilon, weightDecay: weightDecay, decoupled: decoupledWeightDecay,
                          stepSize: lr / (1 - pow(beta1, t)), biasCorrection2Sqrt: (1 - pow(beta2, t)).squareRoot(), clip: clip)
    }
}

/// RMSprop as `torch.optim.RMSprop` (not centered, no momentum): defaults lr 0.01, alpha 0.99, eps 1e-8.
public final class RMSprop: Optimizer {
    public let alpha: Double, epsilon: Double
    public init(learningRate: Double = 0.01, alpha: Double = 0.99, epsilon: Double = 1e-8, weightDecay: Double = 0,
                clipNorm: Double? = nil, clipValue: Double? = nil, schedule: LearningRateSchedule? = nil) throws {
        guard alpha >= 0, alpha < 1 else { throw LSTMKitError.invalidArgument(name: "alpha", value: "\(alpha)", reason: "must be in [0, 1)") }
        self.alpha = alpha; self.epsilon = epsilon
        try super.init(learningRate: learningRate, weightDecay: weightDecay, clipNorm: clipNorm, clipValue: clipValue, schedule: schedule)
    }
    override var stateCount: Int { 1 }
    override func update(_ b: ParameterBuffer, state: [DeviceBuffer], lr: Double, clip: GradientClip, backend be: Backend & TrainingBackend) throws {
        try be.rmspropUpdate(count: b.parameters.count, p: b.parameters.view.buffer, grad: b.gradients.view.buffer, squareAvg: state[0],
                             lr: lr, alpha: alpha, eps: epsilon, weightDecay: weightDecay, clip: clip)
    }
}
