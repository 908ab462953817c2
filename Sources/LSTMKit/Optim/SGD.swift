import Foundation

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
