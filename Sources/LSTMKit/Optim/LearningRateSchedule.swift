import Foundation

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
