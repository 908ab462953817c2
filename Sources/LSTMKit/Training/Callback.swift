import Foundation

/// Hooks into `fit` (Keras callbacks). Set `model.stopTraining = true` to end training after this epoch.
public protocol Callback: AnyObject {
    func onTrainBegin(model: Sequential) throws
    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws
    func onTrainEnd(model: Sequential) throws
    /// After each training step, with that step's (global) loss and metrics.
    func onBatchEnd(epoch: Int, step: Int, logs: [String: Double], model: Sequential) throws
}

extension Callback {
    public func onBatchEnd(epoch: Int, step: Int, logs: [String: Double], model: Sequential) throws {}
    public func onTrainBegin(model: Sequential) throws {}
    public func onTrainEnd(model: Sequential) throws {}
}

/// Whether a monitored value improves when it goes down (losses, errors) or up (accuracies).
func improvesDownward(_ monitor: String) -> Bool { monitor.hasSuffix("loss") || monitor.hasSuffix("mae") }
