import Foundation
import LSTMKit

// lstmkit-load-check: runs every public loader of LSTMKit on hostile files, in child processes, so that a trap
// or a hang is reported with the file that caused it (HostileFileTests, Fuzz/README.md).
//
//   lstmkit-load-check base DIR          write the valid files the mutations start from
//   lstmkit-load-check check BASEDIR     (child) read case files, one path a line, from stdin; run the loaders
//   lstmkit-load-check fuzz [--seed S] [--count N] [--batch B] [--jobs J] [--timeout T] [--work DIR]
//                           [--inject-trap] [--inject-hang]
//                                        generate N mutations, check them in children, print a JSON summary

let arguments = Array(CommandLine.arguments.dropFirst())

func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data("lstmkit-load-check: \(message)\n".utf8))
    exit(2)
}

/// The result of one loader on one file: "ok" or the error, with whether it names a tensor or field.
func outcome(_ body: () throws -> Void) -> (kind: String, named: Bool, message: String) {
    do {
        try body()
        return ("ok", true, "")
    } catch let error as LSTMKitError {
        let message = error.description.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
        switch error {
        case let .stateDict(tensor, reason): return ("stateDict: " + template(reason), !tensor.isEmpty, message)
        case let .invalidArgument(name, _, reason): return ("invalidArgument: " + template(reason), name.hasPrefix("model.json"), message)
        case let .io(_, reason): return ("io: " + template(reason), false, message)
        default: return ("other", false, message)
        }
    } catch let error as DataLoadError {
        let message = error.description.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
        switch error {
        case let .invalidFile(_, field, reason): return ("DataLoadError: " + template(reason), !field.isEmpty, message)
        case let .invalidCSV(_, line, column, reason): return ("DataLoadError csv: " + template(reason), line > 0 && !column.isEmpty, message)
        case let .notFound(_, name, _): return ("DataLoadError notFound", !name.isEmpty, message)
        case let .unreadable(_, reason): return ("DataLoadError unreadable: " + template(reason), false, message)
        }
    } catch let error as ONNXError {
        let message = error.description.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
        switch error {
        case let .unsupportedNode(opType, name, reason): return ("ONNX unsupportedNode: " + template(reason), !opType.isEmpty || !name.isEmpty, message)
        case let .invalidModel(what, reason): return ("ONNX invalidModel: " + template(reason), !what.isEmpty, message)
        case let .unsupportedLayer(layer, _, reason): return ("ONNX unsupportedLayer: " + template(reason), !layer.isEmpty, message)
        }
    } catch {
        return ("foreign \(type(of: error))", false, "\(error)".replacingOccurrences(of: "\n", with: " "))
    }
}

/// An error message reduced to its kind: numbers, quoted text and paths dropped.
func template(_ reason: String) -> String {
    var out = "", skipping = false
    for word in reason.split(separator: " ").prefix(6) {
        if word.contains("/") || word.contains("\"") || word.contains("'") || word.first?.isNumber == true || word.first == "[" || word.first == "-" {
            if !skipping { out += " #" }
            skipping = true
        } else {
            out += " " + word
            skipping = false
        }
    }
    return String(out.dropFirst())
}

/// The valid files every mutation starts from, made with fixed seeds.
struct BaseFiles {
    /// LSTM(inputSize 3, hidden 4, 2 layers, bidirectional, projection 2): the state dict `LSTM.load` reads.
    static func makeLSTM() throws -> LSTM {
        try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 2, seed: 1)
    }

    /// The run directory's model.json in version 1 (LSTMKit before model.json version 2), which still loads.
    static let legacyModelJSON = """
        {"format": "lstmkit.sequential", "version": 1, "inputShape": [5], "seed": 7, "layers": [
          {"type": "Embedding", "inputDim": 6, "outputDim": 3, "maskZero": true},
          {"type": "LSTM", "units": 4, "returnSequences": true, "returnState": false, "stateful": false, "peephole": true},
          {"type": "Bidirectional", "mergeMode": "sum",
           "layer": [{"type": "GRU", "units": 3, "returnSequences": false, "returnState": false, "stateful": false}]},
          {"type": "Dense", "units": 2, "activation": "softmax", "useBias": true}]}
        """

    /// Writes lstm.safetensors and a run directory (model.json, model.safetensors, optimizer.safetensors of an
    /// Embedding -> LSTM -> Bidirectional(GRU) -> Dense model after one Adam step) into `directory`, and the same
    /// model.json in version 1 as legacy.model.json.
    static func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try makeLSTM().save(to: directory.appendingPathComponent("lstm.safetensors"))
        let model = Sequential([Embedding(inputDim: 6, outputDim: 3, maskZero: true), LSTMLayer(units: 4, returnSequences: true, peephole: true),
                                Bidirectional(GRULayer(units: 3), mergeMode: .sum), Dense(units: 2, activation: .softmax)], seed: 7)
        model.compile(optimizer: try Adam(), loss: .sparseCategoricalCrossentropy())
        _ = try model.trainOnBatch(x: try DataArray(shape: [2, 5], values: [1, 2, 3, 4, 0, 5, 4, 3, 0, 0]), y: DataArray([0, 1]))
        try model.save(to: directory)
        let legacy = Data(legacyModelJSON.utf8)
        guard try Sequential.architecture(fromModelJSON: legacy).layers == model.config.layers else {
            die("legacyModelJSON does not describe the base model")
        }
        try writeFile(legacy, to: directory.appendingPathComponent("legacy.model.json"))
        // The same model as ONNX (Gather, Transpose, LSTM with peepholes and sequence_lens, GRU, Gemm, Softmax).
        try writeFile(try ONNXExport.data(model), to: directory.appendingPathComponent("model.onnx"))
        // DataArray's inputs: a .npy and a deflated .npz that numpy wrote (Tests/Fixtures/make_data_fixtures.py).
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/data")
        try writeFile(try Data(contentsOf: fixtures.appendingPathComponent("fortran_f4.npy")), to: directory.appendingPathComponent("data.npy"))
        try writeFile(try Data(contentsOf: fixtures.appendingPathComponent("deflated.npz")), to: directory.appendingPathComponent("data.npz"))
    }

    /// The compiled model the optimizer state loads into (the run directory's architecture).
    static func loadModel(from directory: URL) throws -> Sequential {
        let model = try Sequential.load(from: directory)
        model.compile(optimizer: try Adam(), loss: .sparseCategoricalCrossentropy())
        return model
    }
}

/// Where the many small files go: /dev/shm (memory) when there is one, else the temporary directory (on a disk,
/// creating and deleting tens of thousands of files costs more than loading them).
func scratchRoot() -> URL {
    access("/dev/shm", W_OK) == 0 ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
}

// MARK: check (the child)

func check(base: URL) throws {
    let fm = FileManager.default
    let scratch = scratchRoot().appendingPathComponent("lstmkit-load-check-\(getpid())")
    try? fm.removeItem(at: scratch)
    try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: scratch) }
    var baseData: [String: Data] = [:]
    for role in ["model.json", "model.safetensors", "optimizer.safetensors"] {
        baseData[role] = try Data(contentsOf: base.appendingPathComponent(role))
        try writeFile(baseData[role]!, to: scratch.appendingPathComponent(role))
    }
    let lstm = try BaseFiles.makeLSTM()
    let model = try BaseFiles.loadModel(from: base)

    // Output goes out before each file's loads start, so a trap loses nothing but that file's lines.
    var pending = ""
    func flush() { FileHandle.standardOutput.write(Data(pending.utf8)); pending = "" }
    func report(_ file: String, _ loader: String, _ r: (kind: String, named: Bool, message: String)) {
        // The scratch directory's name holds this process's id: hidden, so two runs print the same lines.
        let message = r.message.replacingOccurrences(of: scratch.path, with: "<scratch>")
        pending += "R\t\(file)\t\(loader)\t\(r.kind)\t\(r.named ? 1 : 0)\t\(message)\n"
    }
    /// Puts `data` in the scratch run directory as `role`, runs `body`, then restores the valid file.
    func inScratch(_ role: String, _ data: Data, _ body: () throws -> Void) throws -> (kind: String, named: Bool, message: String) {
        let url = scratch.appendingPathComponent(role)
        try writeFile(data, to: url)
        defer { try? writeFile(baseData[role]!, to: url) }
        return outcome(body)
    }

    while let line = readLine() {
        guard !line.isEmpty else { continue }
        pending += "B\t\(line)\n"
        flush()
        let url = URL(fileURLWithPath: line)
        let data = try Data(contentsOf: url)
        // Hooks that prove the harness reports traps and hangs (HostileFileTests); never in a generated file.
        if data == Data("LSTMKIT-LOAD-CHECK-TRAP".utf8) { fatalError("deliberate trap for \(line)") }
        if data == Data("LSTMKIT-LOAD-CHECK-HANG".utf8) { while true { sleep(1) } }
        if line.hasSuffix(".json") {
            report(line, "Sequential.load", try inScratch("model.json", data) {
                let loaded = try Sequential.load(from: scratch)
                loaded.compile(optimizer: try Adam(), loss: .sparseCategoricalCrossentropy())
                try loaded.loadOptimizerState(from: scratch)
            })
        } else if line.hasSuffix(".npy") {
            report(line, "DataArray(npy:)", outcome { _ = try DataArray(npy: url) })
        } else if line.hasSuffix(".npz") {
            report(line, "DataArray.npz", outcome { _ = try DataArray.npz(url) })
        } else if line.hasSuffix(".onnx") {
            report(line, "ONNXImport.sequential", outcome { _ = try ONNXImport.sequential(data) })
            report(line, "ONNXImport.network", outcome { _ = try ONNXImport.network(data) })
        } else {
            report(line, "SafeTensors.read", outcome { _ = try SafeTensors.read(url) })
            report(line, "SafeTensors.metadata", outcome { _ = try SafeTensors.metadata(url) })
            report(line, "LSTM.load", outcome { try lstm.load(from: url) })
            report(line, "Sequential.load", try inScratch("model.safetensors", data) { _ = try Sequential.load(from: scratch) })
            report(line, "loadOptimizerState", try inScratch("optimizer.safetensors", data) { try model.loadOptimizerState(from: scratch) })
        }
        pending += "E\t\(line)\n"
    }
    flush()
}

// MARK: fuzz (the driver)

struct Summary: Codable {
    var seed: UInt64 = 0
    var files = 0
    var loads = 0
    var accepted = 0
    var rejected = 0
    var traps: [String] = []
    var hangs: [String] = []
    var unnamed: [String] = []
    var errorKinds: [String: Int] = [:]
    var children = 0
    var seconds = 0.0
}

/// Runs one child on `files`; returns the result lines, and the file it died or hung on (with which), if any.
func runChild(_ files: [String], base: URL, timeout: Double) throws -> (lines: [Substring], failed: String?, hung: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    process.arguments = ["check", base.path]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let list = Data((files.joined(separator: "\n") + "\n").utf8)
    let writer = Thread { input.fileHandleForWriting.write(list); try? input.fileHandleForWriting.close() }
    writer.start()
    let collected = LockedData()
    let reader = Thread { collected.set(output.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let deadline = Date().addingTimeInterval(timeout)
    var hung = false
    while process.isRunning {
        if Date() > deadline { hung = true; kill(process.processIdentifier, SIGKILL) }
        usleep(20_000)
    }
    process.waitUntilExit()
    // A child killed by a signal leaves its scratch directory behind.
    try? FileManager.default.removeItem(at: scratchRoot().appendingPathComponent("lstmkit-load-check-\(process.processIdentifier)"))
    while !collected.done { usleep(1000) }
    let text = String(decoding: collected.data, as: UTF8.self)
    let lines = text.split(separator: "\n")
    let exitedCleanly = !hung && process.terminationReason == .exit && process.terminationStatus == 0
    guard !exitedCleanly else { return (lines, nil, false) }
    // The last file begun and not ended is the one at fault.
    var open: String?
    for l in lines {
        if l.hasPrefix("B\t") { open = String(l.dropFirst(2)) }
        if l.hasPrefix("E\t") { open = nil }
    }
    return (lines, open ?? "<child failed before any file: status \(process.terminationStatus)>", hung)
}

/// The driver's state, shared by its threads.
final class Shared: @unchecked Sendable {
    private let lock = NSLock()
    enum Job { case files([String]), range(Range<Int>) }
    private var queue: [Job]
    private(set) var summary: Summary
    private(set) var failure: Error?
    init(summary: Summary, queue: [Job]) { self.summary = summary; self.queue = queue }
    func take() -> Job? { lock.lock(); defer { lock.unlock() }; return queue.isEmpty ? nil : queue.removeFirst() }
    func fail(_ error: Error) { lock.lock(); failure = error; lock.unlock() }
    func record(_ lines: [Substring], failed: String?, hung: Bool) {
        lock.lock(); defer { lock.unlock() }
        summary.children += 1
        for l in lines where l.hasPrefix("R\t") {
            let f = l.split(separator: "\t", maxSplits: 5, omittingEmptySubsequences: false)
            guard f.count == 6 else { continue }
            summary.loads += 1
            if f[3] == "ok" { summary.accepted += 1 } else { summary.rejected += 1; summary.errorKinds[String(f[3]), default: 0] += 1 }
            if f[4] != "1" { summary.unnamed.append("\(f[1]) \(f[2]): \(f[5])") }
        }
        if let failed { if hung { summary.hangs.append(failed) } else { summary.traps.append(failed) } }
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Data(), finished = false
    func set(_ d: Data) { lock.lock(); value = d; finished = true; lock.unlock() }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return finished }
    var data: Data { lock.lock(); defer { lock.unlock() }; return value }
}

func fuzz(_ options: [String: String], flags: Set<String>) throws {
    let seed = UInt64(options["--seed"] ?? "13") ?? 13
    let count = Int(options["--count"] ?? "20000") ?? 20000
    let batch = Int(options["--batch"] ?? "2000") ?? 2000
    let jobs = Int(options["--jobs"] ?? "2") ?? 2
    let timeout = Double(options["--timeout"] ?? "120") ?? 120
    let fm = FileManager.default
    let work = options["--work"].map { URL(fileURLWithPath: $0) }
        ?? scratchRoot().appendingPathComponent("lstmkit-fuzz-\(getpid())")
    try? fm.removeItem(at: work)
    let base = work.appendingPathComponent("base")
    try BaseFiles.write(to: base)
    let mutator = try Mutator(baseDirectory: base)
    let start = Date()
    var summary = Summary()
    summary.seed = seed

    // The batches: index ranges, each written by the thread that checks it (generation runs in parallel too).
    var batches: [[String]] = []
    var ranges: [Range<Int>] = stride(from: 0, to: count, by: batch).map { $0..<min(count, $0 + batch) }
    if flags.contains("--inject-trap") || flags.contains("--inject-hang") {
        let dir = work.appendingPathComponent("injected")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        var injected: [String] = []
        for (flag, word) in [("--inject-trap", "TRAP"), ("--inject-hang", "HANG")] where flags.contains(flag) {
            let url = dir.appendingPathComponent("injected-\(word.lowercased()).model.safetensors")
            try writeFile(Data("LSTMKIT-LOAD-CHECK-\(word)".utf8), to: url)
            injected.append(url.path)
        }
        // The injected files go in the middle of the first batch, so the files after them must still be checked.
        let first = ranges.isEmpty ? 0..<0 : ranges.removeFirst()
        let mid = first.lowerBound + first.count / 2
        var files = try write(first.lowerBound..<mid)
        files += injected
        files += try write(mid..<first.upperBound)
        batches.append(files)
    }
    @Sendable func write(_ range: Range<Int>) throws -> [String] {
        let dir = work.appendingPathComponent("batch-\(range.lowerBound)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try range.map { i in
            let (role, data) = mutator.mutation(seed: seed, index: i)
            let url = dir.appendingPathComponent("case-\(i).\(role)")
            try writeFile(data, to: url)
            return url.path
        }
    }
    summary.files = count + (flags.contains("--inject-trap") ? 1 : 0) + (flags.contains("--inject-hang") ? 1 : 0)

    // Check them, `jobs` children at a time; after a trap or hang, the rest of the batch goes to a new child.
    let shared = Shared(summary: summary, queue: batches.map { .files($0) } + ranges.map { .range($0) })
    let threads = (0..<max(1, jobs)).map { _ in
        Thread {
            while let job = shared.take() {
                let files: [String]
                switch job {
                case .files(let f): files = f
                case .range(let r):
                    do { files = try write(r) } catch { shared.fail(error); return }
                }
                var rest = files[...]
                while !rest.isEmpty {
                    do {
                        let (lines, failed, hung) = try runChild(Array(rest), base: base, timeout: timeout)
                        shared.record(lines, failed: failed, hung: hung)
                        guard let failed, let at = rest.firstIndex(of: failed) else { break }
                        rest = rest[(at + 1)...]
                    } catch {
                        shared.fail(error)
                        return
                    }
                }
            }
        }
    }
    for t in threads { t.start() }
    while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
    if let failure = shared.failure { throw failure }
    summary = shared.summary
    summary.seconds = Date().timeIntervalSince(start)
    if summary.traps.isEmpty && summary.hangs.isEmpty && summary.unnamed.isEmpty && !flags.contains("--keep") {
        try? fm.removeItem(at: work)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(summary), as: UTF8.self))
}

// MARK: main

guard let mode = arguments.first else { die("usage: lstmkit-load-check base DIR | check BASEDIR | fuzz [options]") }
do {
    switch mode {
    case "base":
        guard arguments.count == 2 else { die("usage: lstmkit-load-check base DIR") }
        try BaseFiles.write(to: URL(fileURLWithPath: arguments[1]))
    case "check":
        guard arguments.count == 2 else { die("usage: lstmkit-load-check check BASEDIR") }
        try check(base: URL(fileURLWithPath: arguments[1]))
    case "fuzz":
        var options: [String: String] = [:], flags = Set<String>()
        var i = 1
        while i < arguments.count {
            let a = arguments[i]
            if ["--inject-trap", "--inject-hang", "--keep"].contains(a) { flags.insert(a); i += 1; continue }
            guard i + 1 < arguments.count else { die("\(a) needs a value") }
            options[a] = arguments[i + 1]
            i += 2
        }
        try fuzz(options, flags: flags)
    default:
        die("unknown mode \(mode)")
    }
} catch {
    die("\(error)")
}
