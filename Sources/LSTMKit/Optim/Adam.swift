import Foundation

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
