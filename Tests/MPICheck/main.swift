// lstm-mpi-check: run by DistributedTests under `mpirun -np 2` (and once without mpirun). Each mode prints
// machine-readable lines ("RESULT key=value ...", "TYPED-ERROR rank=R ...") that the tests parse and check.
//
//   equivalence cpu|cpu64|opencl [SAMPLES]   2 ranks with global batch 2b against, on rank 0, 1 rank with batch 2b
//   die DIR                        rank 1 kills itself (SIGKILL) mid-training; rank 0 checkpoints into DIR each epoch
//   resume DIR                     (1 rank) loads DIR's checkpoint and trains 2 more epochs
//   bad-batch | bad-model          setups the ranks cannot train with
import Foundation
import LSTMKit

/// Prints one line and flushes it at once (a rank may be killed right after).
func print(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Token sequences (vocab 11, T 9) whose target is the next token of a noisy pattern: a small char-LM.
func data(samples: Int, seed: UInt64) throws -> (DataArray, DataArray) {
    var g = SeededGenerator(seed: seed)
    var x: [Float] = [], y: [Float] = []
    for _ in 0..<samples {
        var t = Int(g.next() % 10) + 1
        for _ in 0..<9 {
            x.append(Float(t))
            t = (t * 3 + Int(g.next() % 3)) % 10 + 1
            y.append(Float(t))
        }
    }
    return (try DataArray(shape: [samples, 9], values: x), try DataArray(shape: [samples, 9], values: y))
}

func model(_ device: Device, hidden: Int = 12) throws -> Sequential {
    let m = Sequential([Embedding(inputDim: 11, outputDim: 6), LSTMLayer(units: hidden, returnSequences: true),
                        TimeDistributed(Dense(units: 11, activation: .softmax))], device: device, seed: 7)
    try m.compile(optimizer: Adam(learningRate: 0.01, clipNorm: 1.0), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
    return m
}

final class StepRecorder: Callback {
    var losses: [Double] = []
    var onStep: ((Int, Int) -> Void)?
    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {}
    func onBatchEnd(epoch: Int, step: Int, logs: [String: Double], model: Sequential) throws {
        losses.append(logs["loss"]!)
        onStep?(epoch, step)
    }
}

func weights(_ m: Sequential) throws -> [Double] { try m.parameterBuffers.flatMap { try $0.parameters.toDoubles() } }

func maxRelative(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-30) }.max() ?? .infinity
}

/// Prints a typed error as one parseable line and exits with status 3.
func reportTyped(_ error: Error, rank: Int) -> Never {
    print("TYPED-ERROR rank=\(rank) type=\(type(of: error)) message=\(error)")
    exit(3)
}

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : ""
let world: Distributed
do { world = try Distributed.world() } catch { reportTyped(error, rank: -1) }
let rank = world.rank

do {
    switch mode {
    case "equivalence":
        let device: Device = switch arguments[2] {
            case "cpu64": .cpuFloat64
            case "opencl": try .opencl()
            default: .cpu
        }
        // 50 samples: 45 training samples in global batches of 8, 6 steps per epoch, the last one of 5 samples (shards of
        // 2 and 3). 45 samples: 41, the last batch of 1 sample: rank 0 has none in that step.
        let (x, y) = try data(samples: arguments.count > 3 ? Int(arguments[3])! : 50, seed: 3)
        let epochs = 3, batch = 8
        let parallel = try model(device), recorder = StepRecorder()
        let history = try parallel.fit(x: x, y: y, epochs: epochs, batchSize: batch, validationSplit: 0.1, callbacks: [recorder],
                                       verbose: 0, distributed: world)
        let w = try weights(parallel)
        // Ranks hold identical weights: compare with rank 0's.
        var w0 = w
        try world.broadcast(&w0, from: 0)
        let rankSpread = maxRelative(w, w0)
        var spread = [rankSpread]
        try world.allReduce(&spread, .max)
        if rank == 0 {
            let single = try model(device), reference = StepRecorder()
            let refHistory = try single.fit(x: x, y: y, epochs: epochs, batchSize: batch, validationSplit: 0.1, callbacks: [reference],
                                            verbose: 0, distributed: .single)
            let ref = try weights(single)
            let valLoss = history.epochs.last!["val_loss"]!, refValLoss = refHistory.epochs.last!["val_loss"]!
            let lossRel: Double = maxRelative(recorder.losses, reference.losses)
            let weightRel: Double = maxRelative(w, ref)
            let weightAbs: Double = zip(w, ref).map { abs($0 - $1) }.max()!
            let weightNormRel: Double = weightAbs / ref.map { abs($0) }.max()!
            let valRel: Double = abs(valLoss - refValLoss) / refValLoss
            var line = "RESULT device=\(device) ranks=\(world.size) steps=\(recorder.losses.count) refSteps=\(reference.losses.count)"
            line += " lossMaxRel=\(lossRel) weightMaxRel=\(weightRel) weightMaxAbs=\(weightAbs) weightNormRel=\(weightNormRel) valLossRel=\(valRel)"
            line += " rankSpread=\(spread[0]) finalLoss=\(recorder.losses.last!)"
            print(line)
        }
        try world.barrier()
    case "die":
        let dir = URL(fileURLWithPath: arguments[2])
        let (x, y) = try data(samples: 400, seed: 5)
        let m = try model(.cpu, hidden: 32), recorder = StepRecorder()
        recorder.onStep = { epoch, step in
            if rank == 1 && epoch == 3 && step == 5 {
                print("DYING rank=1 epoch=3 step=5")
                kill(getpid(), SIGKILL)
            }
        }
        final class Saver: Callback {
            let dir: URL, rank: Int
            init(_ dir: URL, _ rank: Int) { self.dir = dir; self.rank = rank }
            func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
                guard rank == 0 else { return }
                try model.save(to: dir)
                print("SAVED epoch=\(epoch) loss=\(logs["loss"]!)")
            }
        }
        let start = Date()
        do {
            try m.fit(x: x, y: y, epochs: 50, batchSize: 8, callbacks: [recorder, Saver(dir, rank)], verbose: 0)
            print("UNEXPECTED rank=\(rank): training finished")
        } catch {
            print("ELAPSED rank=\(rank) seconds=\(Date().timeIntervalSince(start))")
            reportTyped(error, rank: rank)
        }
    case "resume":
        let dir = URL(fileURLWithPath: arguments[2])
        let (x, y) = try data(samples: 400, seed: 5)
        let m = try Sequential.load(from: dir, device: .cpu)
        try m.compile(optimizer: Adam(learningRate: 0.01, clipNorm: 1.0), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
        let restored = try m.loadOptimizerState(from: dir)
        let before = try m.evaluate(x: x, y: y)["loss"]!
        let h = try m.fit(x: x, y: y, epochs: 2, batchSize: 8, verbose: 0)
        print("RESULT resumed ranks=\(world.size) optimizerState=\(restored) lossBefore=\(before) lossAfter=\(h.epochs.last!["loss"]!)")
    case "allreduce-bench":
        // In-place sum all-reduce of N floats, each after a barrier (so that waiting for a slower rank is not counted).
        let n = Int(arguments[2])!, reps = Int(arguments[3])!
        var values = [Float](repeating: 1, count: n)
        var total = 0.0
        for _ in 0..<reps {
            try world.barrier()
            let t0 = DispatchTime.now().uptimeNanoseconds
            try world.allReduce(&values, .sum)
            total += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        if rank == 0 { print("RESULT allreduce floats=\(n) bytes=\(4 * n) reps=\(reps) msPerCall=\(total / Double(reps) * 1e3)") }
    case "bad-batch":
        let (x, y) = try data(samples: 20, seed: 3)
        try model(.cpu).fit(x: x, y: y, epochs: 1, batchSize: 1, verbose: 0)
        print("UNEXPECTED rank=\(rank): trained")
    case "bad-model":
        let (x, y) = try data(samples: 20, seed: 3)
        try model(.cpu, hidden: rank == 0 ? 12 : 13).fit(x: x, y: y, epochs: 1, batchSize: 4, verbose: 0)
        print("UNEXPECTED rank=\(rank): trained")
    default:
        print("usage: lstm-mpi-check equivalence cpu|cpu64|opencl | die DIR | resume DIR | bad-batch | bad-model")
        exit(64)
    }
} catch {
    reportTyped(error, rank: rank)
}
world.finalize()
