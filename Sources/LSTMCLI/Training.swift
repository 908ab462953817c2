import ArgumentParser
import Foundation
import LSTMKit

/// The device: "any" (an OpenCL GPU or accelerator, else the CPU path), "cpu", "gpu", "opencl", "opencl:N", "opencl:P:D".
struct DeviceOption: ParsableArguments {
    @Option(help: "cpu, gpu, opencl, opencl:N (the N-th OpenCL device), opencl:P:D, or any: an OpenCL GPU or accelerator if there is one, else the CPU (OpenCL on a CPU, e.g. PoCL, only when asked for with opencl).")
    var device: String = "any"

    /// Why `--device any` picked what it picked ("" for other specs).
    var reason: String {
        device.lowercased() == "any" ? Device.anyChoice().reason : ""
    }

    func resolve() throws -> Device {
        // Under mpirun with several ranks on a machine and several OpenCL devices: one device per local rank.
        if device == "any", let world = try? Distributed.world(), world.localSize > 1 {
            let gpus = Device.openCLDevices().enumerated().filter { $0.element.isGPU }
            if gpus.count > 1 { return try Device.named("opencl:\(gpus[world.localRank % gpus.count].offset)") }
        }
        do { return try Device.named(device) } catch LSTMKitError.noOpenCLPlatform {
            throw CLIError("--device \(device): no OpenCL platform found: install one (e.g. pocl-opencl-icd) or pass --device cpu (or any)")
        } catch LSTMKitError.noGPU(let found) {
            throw CLIError("--device \(device): no OpenCL GPU or accelerator (OpenCL devices: \(found.isEmpty ? "none" : found.joined(separator: ", "))): "
                + "pass --device cpu, opencl (OpenCL on the CPU) or any")
        } catch let LSTMKitError.unknownDevice(name) {
            throw CLIError("--device \(name): no such device: use cpu, any, opencl, opencl:N or opencl:P:D (`lstm devices` lists them)")
        }
    }
}

/// Flags every `lstm train` task shares. Defaults that depend on the task are nil here.
struct TrainingOptions: ParsableArguments {
    @OptionGroup var deviceOption: DeviceOption
    @Option(help: "Passes over the training data (default: per task).") var epochs: Int?
    @Option(help: "Samples per training step (default: per task).") var batchSize: Int?
    @Option(help: "LSTM units per layer (default: per task).") var hidden: Int?
    @Option(help: "Stacked LSTM layers (default: per task).") var layers: Int?
    @Option(help: "Learning rate of Adam (default: per task).") var lr: Double?
    @Option(help: "Seed of the initial weights and of the shuffling.") var seed: UInt64 = 42
    @Option(help: "The run directory: checkpoint, vocabulary or normalisation, history and plots (default: runs/TASK).") var out: String?
    @Flag(help: "Continue the run in --out: reload its checkpoint and keep training.") var resume = false
    @Flag(help: "Replace an existing run in --out.") var overwrite = false
    @Option(help: "Stop after the epoch when the next one would pass this many seconds.") var timeLimit: Double?
    @Option(help: "The fraction of samples held out for validation, taken from the end (default: per task).") var validationSplit: Double?
    @Option(help: "Stop when the validation loss has not improved for this many epochs, and keep the best weights.") var patience: Int?
    @Option(help: "Dropout rate between stacked LSTM layers (default 0).") var dropout: Double?
    @Option(help: "0 silent, 1 progress bar, 2 one line per epoch.") var verbose: Int = 1

    func validateValues() throws {
        func positive(_ name: String, _ v: Int?) throws {
            if let v, v < 1 { throw CLIError("--\(name) must be at least 1 (got \(v))") }
        }
        try positive("epochs", epochs); try positive("batch-size", batchSize); try positive("hidden", hidden); try positive("layers", layers)
        if let e = epochs, e > RunChecks.maxEpochs { throw CLIError("--epochs must be at most \(RunChecks.maxEpochs) (got \(e))") }
        if let b = batchSize, b > RunChecks.maxBatch { throw CLIError("--batch-size must be at most \(RunChecks.maxBatch) (got \(b))") }
        if let p = patience, p < 0 { throw CLIError("--patience must be 0 or more (got \(p))") }
        if let lr, !(lr > 0 && lr.isFinite) { throw CLIError("--lr must be a positive number (got \(lr))") }
        if let v = validationSplit, !(v >= 0 && v < 1) { throw CLIError("--validation-split must be in [0, 1) (got \(v))") }
        if let d = dropout, !(d >= 0 && d < 1) { throw CLIError("--dropout must be in [0, 1) (got \(d))") }
        if let t = timeLimit, !(t > 0) { throw CLIError("--time-limit must be a positive number of seconds (got \(t))") }
        if !(0...2).contains(verbose) { throw CLIError("--verbose must be 0, 1 or 2 (got \(verbose))") }
    }

    /// Fails when a flag asks for a different value than the checkpoint being resumed has.
    static func checkResumed<T: Equatable>(_ flag: String, _ given: T?, _ stored: T?, run: RunDirectory) throws {
        guard let given, given != stored else { return }
        let storedText = stored.map { "\($0)" } ?? "none"
        throw CLIError("--\(flag) \(given) does not match the checkpoint in \(run.path) (\(storedText)): a checkpoint of another architecture "
            + "cannot be resumed; drop --\(flag) or use another --out")
    }
}

/// Everything `fit` needs besides the model, in one place for the three tasks and the demo.
struct TrainingJob {
    var model: Sequential
    var x: DataArray
    var y: DataArray
    var validationSplit: Double
    var epochs: Int
    var batchSize: Int
    var shuffle = true
    var seed: UInt64
    var patience: Int?
    var timeLimit: Double?
    var verbose: Int
    var run: RunDirectory
    var config: RunConfig
    var previous: [[String: Double]]
    /// A new run (its first commit replaces what --out held) rather than --resume.
    var fresh: Bool
    /// The task's state file (vocab.json or normalization.json) as it goes into every checkpoint.
    var taskFile: () throws -> (name: String, data: Data)
    /// Stop after the first epoch whose validation loss (the training loss without validation) is at most this.
    var targetLoss: Double? = nil
    /// Called after each epoch before the checkpoint (e.g. the forecaster's validation report).
    var callbacks: [Callback] = []

    struct Result {
        var history: History
        var epochs: [[String: Double]]
        var plots: [URL]
        var stoppedByTimeLimit: Bool
        var reachedTargetLoss: Bool = false
        var config: RunConfig
        var seconds: Double
    }

    /// Trains with a checkpoint per epoch (the model, run.json, the task's files, the history and the plots).
    func fit() throws -> Result {
        let validationCount = Int(Double(x.count) * validationSplit)
        let trainCount = x.count - validationCount
        guard trainCount >= 1 else {
            throw CLIError("there are only \(x.count) samples: too few to train on; give more data or a smaller --window / --validation-split")
        }
        let batch = min(batchSize, trainCount)
        guard epochs <= RunChecks.maxEpochs - config.epochsTrained else {
            throw CLIError("--epochs \(epochs) after the \(config.epochsTrained) epochs trained so far passes \(RunChecks.maxEpochs), the most a run can record")
        }
        // Under mpirun: every rank has checked its inputs (and read --out) before rank 0 writes anything; the other
        // ranks train their shards without a run directory, and end when training ends (see Sequential+Distributed.swift).
        let world = try Distributed.world()
        try world.barrier()
        if world.rank != 0 {
            _ = try model.fit(x: x, y: y, epochs: epochs, batchSize: batch, validationSplit: validationSplit, shuffle: shuffle,
                              seed: seed &+ UInt64(config.epochsTrained), verbose: 0)
            world.finalize()
            exit(0)
        }
        // From here on the directory is written to: hold its lock (another `lstm train` on it fails here) and drop
        // what a killed run left behind.
        let created = !FileManager.default.fileExists(atPath: run.url.path)
        try DurableIO.makeDirectory(run.url)
        run.lock = try RunLock(run.url)
        defer {
            run.lock = nil
            // A fresh --out that never got a checkpoint (e.g. a NaN loss in the first epoch) is not left behind.
            if created, CheckpointStore.entries(run.url).allSatisfy(CheckpointStore.isTemporary) { try? FileManager.default.removeItem(at: run.url) }
        }
        CheckpointStore.removeStaleTemporaries(in: run.url, lockHeld: true)
        var callbacks: [Callback] = self.callbacks
        let hasValidation = validationCount > 0
        var early: EarlyStopping? = nil
        if let patience {
            early = EarlyStopping(monitor: hasValidation ? "val_loss" : "loss", patience: patience, restoreBestWeights: true)
            callbacks.append(early!)
        }
        let limit = timeLimit.map { TimeLimit(seconds: $0) }
        if let limit { callbacks.append(limit) }
        let target = targetLoss.map { TargetLoss(monitor: hasValidation ? "val_loss" : "loss", value: $0) }
        if let target { callbacks.append(target) }
        // After EarlyStopping (so that it sees the epoch first) and the time limit.
        let recorder = RunCheckpoint(run: run, config: config, previous: previous, fresh: fresh, taskFile: taskFile)
        callbacks.append(recorder)
        if verbose > 0 {
            print("\(trainCount) training samples, \(validationCount) validation samples, batch size \(batch), "
                + "up to \(epochs) epoch\(epochs == 1 ? "" : "s")\(timeLimit.map { String(format: " or %.0f s", $0) } ?? "")"
                + (target.map { String(format: ", or until %@ <= %.3g", $0.monitor, $0.value) } ?? ""))
        }
        let start = Date()
        let history = try model.fit(x: x, y: y, epochs: epochs, batchSize: batch, validationSplit: validationSplit, shuffle: shuffle,
                                    seed: seed &+ UInt64(config.epochsTrained), callbacks: callbacks, verbose: verbose)
        let seconds = Date().timeIntervalSince(start)
        let reduce = world.tensorAllReduce
        if verbose > 0, world.size > 1, reduce.calls > 0 {
            print(String(format: "%d ranks: %d gradient all-reduces of %.2f MB, %.2f ms each on rank 0 (host staging included), %.1f%% of the training time",
                         world.size, reduce.calls, Double(reduce.bytes) / Double(reduce.calls) / 1e6, reduce.seconds / Double(reduce.calls) * 1e3,
                         100 * reduce.seconds / seconds))
        }
        if let early {
            if !history.epochs.isEmpty { try recorder.commitFinal(model: model) }  // the best epoch's weights, restored by EarlyStopping
            if verbose > 0, early.bestEpoch != history.epochs.count {
                print("Kept the weights of epoch \(early.bestEpoch + previous.count), the best \(early.monitor).")
            }
        }
        if verbose > 0, let target, target.reached {
            print(String(format: "Stopped after %d epoch%@: %@ %.4f reached the target %.4g.", history.epochs.count,
                         history.epochs.count == 1 ? "" : "s", target.monitor, target.last, target.value))
        } else if verbose > 0, limit?.stopped == true, history.epochs.count < epochs {
            print(String(format: "Stopped after %d epoch%@: the time limit of %.0f s was near.", history.epochs.count,
                         history.epochs.count == 1 ? "" : "s", timeLimit!))
        }
        return Result(history: history, epochs: recorder.epochs, plots: recorder.plots, stoppedByTimeLimit: limit?.stopped ?? false,
                      reachedTargetLoss: target?.reached ?? false, config: recorder.config, seconds: seconds)
    }
}

/// Adam with gradient clipping (global norm 5), the optimizer of every task.
func makeOptimizer(learningRate: Double) throws -> Optimizer {
    try Adam(learningRate: learningRate, clipNorm: 5)
}

/// "runs/charlm" etc. when --out is not given.
func defaultOut(_ task: TaskKind) -> String { "runs/\(task.rawValue)" }

/// Prints where the run's files are.
func printRunFiles(_ run: RunDirectory, plots: [URL], extra: [String]) {
    let names = ["model.json", "model.safetensors", "optimizer.safetensors", "run.json"] + extra + ["history.json"]
    let generation = run.snapshot()?.generation.map(CheckpointStore.generationName) ?? "ckpt-*"
    print("Checkpoint: \(run.path)/\(generation)/ (\(names.joined(separator: ", "))); history: \(run.path)/history.csv")
    if !plots.isEmpty { print("Plots: \(plots.map { (run.path as NSString).appendingPathComponent($0.lastPathComponent) }.joined(separator: ", "))") }
}

