import Foundation

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
