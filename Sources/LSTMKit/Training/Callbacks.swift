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

/// Stops training when `monitor` has not improved by more than `minDelta` for `patience` epochs (Keras
/// `EarlyStopping`); with `restoreBestWeights`, the weights of the best epoch are put back at the end.
public final class EarlyStopping: Callback {
    public let monitor: String, minDelta: Double, patience: Int, restoreBestWeights: Bool
    public private(set) var bestEpoch = 0
    public private(set) var stoppedEpoch: Int?
    private var best: Double?
    private var wait = 0
    private var bestWeights: [Tensor]?

    public init(monitor: String = "val_loss", minDelta: Double = 0, patience: Int = 0, restoreBestWeights: Bool = false) {
        self.monitor = monitor; self.minDelta = minDelta; self.patience = patience; self.restoreBestWeights = restoreBestWeights
    }

    public func onTrainBegin(model: Sequential) throws {
        best = nil; wait = 0; bestWeights = nil; stoppedEpoch = nil
    }

    public func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        guard let value = logs[monitor] else {
            throw LSTMKitError.invalidArgument(name: "EarlyStopping.monitor", value: monitor, reason: "not among the logs \(logs.keys.sorted())")
        }
        let sign = improvesDownward(monitor) ? -1.0 : 1.0
        if best == nil || sign * (value - best!) > minDelta {
            best = value; bestEpoch = epoch; wait = 0
            if restoreBestWeights { bestWeights = try model.snapshotParameters() }
        } else {
            wait += 1
            if wait > patience {
                stoppedEpoch = epoch
                model.stopTraining = true
            }
        }
    }

    public func onTrainEnd(model: Sequential) throws {
        if restoreBestWeights, let bestWeights { try model.restoreParameters(bestWeights) }
    }
}

/// Saves the model to `directory` after each epoch (Keras `ModelCheckpoint`), or only when `monitor` improved
/// with `saveBestOnly`, with `Sequential.save(to:)`. Each file is written to a temporary file and renamed, so a crash
/// never leaves a half-written file, and a failed epoch (e.g. a NaN loss) leaves the last good checkpoint in place.
/// The three files are not one transaction, though: a crash between two renames leaves weights and optimizer state
/// of different epochs. The `lstm` command line writes each epoch as one verified generation instead
/// (`Sources/LSTMCLI/Checkpoint.swift`).
public final class ModelCheckpoint: Callback {
    public let directory: URL, monitor: String, saveBestOnly: Bool
    private var best: Double?
    public init(directory: URL, monitor: String = "val_loss", saveBestOnly: Bool = false) {
        self.directory = directory; self.monitor = monitor; self.saveBestOnly = saveBestOnly
    }
    public func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        if saveBestOnly {
            guard let value = logs[monitor] else {
                throw LSTMKitError.invalidArgument(name: "ModelCheckpoint.monitor", value: monitor, reason: "not among the logs \(logs.keys.sorted())")
            }
            let sign = improvesDownward(monitor) ? -1.0 : 1.0
            guard best == nil || sign * (value - best!) > 0 else { return }
            best = value
        }
        // Under mpirun every rank holds the same weights: rank 0 alone writes them.
        guard try Distributed.world().rank == 0 else { return }
        try model.save(to: directory)
    }
}
