import Foundation

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
