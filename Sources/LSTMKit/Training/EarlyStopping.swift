import Foundation

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
            // Keras 3's rule: `patience` epochs without improvement stop it (Keras 3.15.1, patience 1 and 2, best at
            // epoch 2: stops after epochs 3 and 4).
            if wait >= patience {
                stoppedEpoch = epoch
                model.stopTraining = true
            }
        }
    }

    public func onTrainEnd(model: Sequential) throws {
        if restoreBestWeights, let bestWeights { try model.restoreParameters(bestWeights) }
    }
}
