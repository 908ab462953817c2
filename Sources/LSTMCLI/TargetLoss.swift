import LSTMKit

/// Stops training after the first epoch whose `monitor` is at or below `value`.
final class TargetLoss: Callback {
    let monitor: String
    let value: Double
    private(set) var reached = false
    private(set) var last = Double.nan
    init(monitor: String, value: Double) { self.monitor = monitor; self.value = value }
    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        guard let v = logs[monitor] else { return }
        last = v
        if v <= value { reached = true; model.stopTraining = true }
    }
}
