import Foundation
import LSTMKit

/// Cosine decay of the optimizer's learning rate over a time budget rather than a step count: after every batch the
/// rate is `base * (f + (1 - f) * (1 + cos(pi * p)) / 2)`, `f` the final fraction and `p` the fraction of the
/// expected training time gone. Training stops at an epoch's end (`TimeLimit`), so the expected time is the end of
/// the last epoch that fits in `seconds` at the pace of the latest epoch, as `TimeLimit` reckons it (`seconds`
/// before the first epoch ends).
/// The demo uses it so that a run cut by its time limit ends at a low learning rate whatever the machine's load.
final class TimedLearningRateDecay: Callback {
    let seconds: Double
    let finalFraction: Double
    private var base = 0.0
    private var start = Date()
    private var horizon: Double
    private var lastEpochEnd = Date()

    init(seconds: Double, finalFraction: Double) {
        self.seconds = seconds
        self.finalFraction = finalFraction
        horizon = seconds
    }

    func onTrainBegin(model: Sequential) throws {
        base = model.optimizer?.learningRate ?? 0
        start = Date()
        lastEpochEnd = start
        horizon = seconds
    }

    func onBatchEnd(epoch: Int, step: Int, logs: [String: Double], model: Sequential) throws {
        guard let optimizer = model.optimizer else { return }
        optimizer.learningRate = rate(elapsed: Date().timeIntervalSince(start))
    }

    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        let now = Date(), elapsed = now.timeIntervalSince(start)
        let perEpoch = max(now.timeIntervalSince(lastEpochEnd), 1e-3)
        lastEpochEnd = now
        let more = max(0, ((seconds - elapsed) / perEpoch).rounded(.down))
        horizon = elapsed + more * perEpoch
    }

    /// Restores the base rate, so that a checkpoint's optimizer carries the configured rate.
    func onTrainEnd(model: Sequential) throws {
        model.optimizer?.learningRate = base
    }

    /// The rate `elapsed` seconds into training.
    func rate(elapsed: Double) -> Double {
        let p = min(1, max(0, elapsed / max(horizon, 1e-9)))
        return base * (finalFraction + (1 - finalFraction) * (1 + cos(.pi * p)) / 2)
    }
}
