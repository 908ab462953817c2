import Foundation
import XCTest
@testable import LSTMCLI
@testable import LSTMKit

/// Crash consistency of run directories (issue 13): the checkpoint transaction stopped at every step, torn and
/// damaged generations, stale temporaries, the old layout, --overwrite; and hostile values in every run file and
/// flag. Every command runs in-process through `LSTMTool.run`.
final class RunCheckpointTests: CLITestCase {
    func entries(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    func temporaries(_ dir: String) -> [String] { entries(dir).filter(CheckpointStore.isTemporary) }

    /// Edits a JSON file of the current generation (as text) and reseals the generation.
    func edit(_ out: String, _ file: String, _ change: (String) -> String) throws {
        let url = URL(fileURLWithPath: state(out) + "/" + file)
        let text = try String(contentsOf: url, encoding: .utf8)
        let changed = change(text)
        XCTAssertNotEqual(changed, text, "the edit of \(file) changed nothing")
        try changed.write(to: url, atomically: false, encoding: .utf8)
        try reseal(state(out))
    }

    func seriesCSV() throws -> String { try seriesCSV(rows: 80) }

    func trainForecast(_ out: String, epochs: Int = 1, extra: [String] = []) throws {
        expectSuccess(["train", "forecast", "--csv", try seriesCSV(), "--column", "value", "--window", "6", "--hidden", "4", "--epochs", "\(epochs)",
                       "--batch-size", "16", "--out", out] + extra + cpu)
    }

    /// What the run directory's state says about the epoch: run.json, the history, Adam's step count.
    func epochState(_ out: String) throws -> (epochs: Int, history: [Double], steps: Double) {
        let run = RunDirectory(out)
        let config = try run.config(option: "--model")
        let history = try run.history(config: config).map { $0["epoch"]! }
        let steps = try SafeTensors.read(run.stateDirectory.appendingPathComponent("optimizer.safetensors"))["iterations"]!.values[0]
        return (config.epochsTrained, history, steps)
    }

    // MARK: The transaction

    func testCRC32() {
        XCTAssertEqual(CRC32.checksum(Data("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum(Data()), 0)
    }

    struct Crash: Error, CustomStringConvertible {
        let step: CheckpointStore.Step
        var description: String { "simulated crash after \(step)" }
    }

    /// Stops the second epoch's commit after each step, as kill -9 would (no cleanup runs), then opens the run.
    func testCommitStoppedAfterEveryStepLeavesOneCompleteCheckpoint() throws {
        let base = path("base")
        try trainForecast(base)
        let first = try epochState(base)
        XCTAssertEqual(first.epochs, 1)
        XCTAssertEqual(first.history, [1])
        let stepsPerEpoch = first.steps
        XCTAssertGreaterThan(stepsPerEpoch, 0)
        let csv = try seriesCSV()
        for step in CheckpointStore.Step.allCases {
            let out = path("crash-\(step)")
            try FileManager.default.copyItem(atPath: base, toPath: out)
            CheckpointStore.afterStep = { if $0 == step { throw Crash(step: step) } }
            expectFailure(["train", "forecast", "--csv", csv, "--out", out, "--resume", "--epochs", "1"] + cpu, "simulated crash after \(step)")
            CheckpointStore.afterStep = nil
            let committed = step.rawValue >= CheckpointStore.Step.renamed.rawValue
            // What the crash left: a half-written generation before the commit point, a pointer temporary after it.
            if !committed { XCTAssertEqual(temporaries(out), ["ckpt-000002.tmp"], "\(step)") }
            if step == .wrotePointerTemporary { XCTAssertEqual(temporaries(out), ["checkpoint.tmp"]) }
            // Every command that opens the run sees one complete checkpoint, and it removes the temporaries.
            expectSuccess(["evaluate", "--model", out, "--device", "cpu"])
            XCTAssertEqual(temporaries(out), [], "\(step): stale temporaries are removed on the next start")
            let s = try epochState(out)
            let expected = committed ? 2 : 1
            XCTAssertEqual(s.epochs, expected, "\(step)")
            XCTAssertEqual(s.history, (1...expected).map(Double.init), "\(step): the history agrees with run.json")
            XCTAssertEqual(s.steps, Double(expected) * stepsPerEpoch, "\(step): Adam's step count agrees with run.json")
            // And --resume continues from it.
            expectSuccess(["train", "forecast", "--csv", csv, "--out", out, "--resume", "--epochs", "1"] + cpu)
            let resumed = try epochState(out)
            XCTAssertEqual(resumed.epochs, expected + 1, "\(step)")
            XCTAssertEqual(resumed.history, (1...(expected + 1)).map(Double.init), "\(step)")
            XCTAssertEqual(resumed.steps, Double(expected + 1) * stepsPerEpoch, "\(step)")
            XCTAssertEqual(temporaries(out), [])
            XCTAssertLessThanOrEqual(entries(out).filter { CheckpointStore.generationNumber($0) != nil }.count, 2, "old generations are removed")
        }
    }

    /// Hand-made torn and damaged states: each falls back to the last complete generation, or fails with one line.
    func testDamagedGenerationsFallBackToTheLastCompleteOne() throws {
        let out = path("run")
        try trainForecast(out, epochs: 2)
        XCTAssertEqual(entries(out).filter { CheckpointStore.generationNumber($0) != nil }, ["ckpt-000001", "ckpt-000002"])
        let pristine = path("pristine")
        try FileManager.default.copyItem(atPath: out, toPath: pristine)
        func reset() throws {
            try FileManager.default.removeItem(atPath: out)
            try FileManager.default.copyItem(atPath: pristine, toPath: out)
        }
        func opensAt(_ epochs: Int, _ what: String, line: UInt = #line) throws {
            expectSuccess(["forecast", "--model", out, "--output", path("f.csv"), "--device", "cpu"], line: line)
            XCTAssertEqual(try epochState(out).epochs, epochs, what, line: line)
            XCTAssertEqual(try epochState(out).history.count, epochs, what, line: line)
        }
        let g2 = out + "/ckpt-000002"
        // A flipped byte in the weights (same size): the CRC-32 catches it.
        var weights = try Data(contentsOf: URL(fileURLWithPath: g2 + "/model.safetensors"))
        weights[weights.count - 3] ^= 0x40
        try weights.write(to: URL(fileURLWithPath: g2 + "/model.safetensors"))
        try opensAt(1, "a flipped byte")
        try reset()
        // A truncated optimizer state.
        let optimizer = try Data(contentsOf: URL(fileURLWithPath: g2 + "/optimizer.safetensors"))
        try optimizer.prefix(optimizer.count / 2).write(to: URL(fileURLWithPath: g2 + "/optimizer.safetensors"))
        try opensAt(1, "a truncated file")
        try reset()
        // No manifest (the crash came before it was written), a manifest that is not JSON, a missing file.
        try FileManager.default.removeItem(atPath: g2 + "/manifest.json")
        try opensAt(1, "no manifest")
        try reset()
        try Data("{\"format\": \"lstm-cli.checkpoint\", \"vers".utf8).write(to: URL(fileURLWithPath: g2 + "/manifest.json"))
        try opensAt(1, "a torn manifest")
        try reset()
        try FileManager.default.removeItem(atPath: g2 + "/history.json")
        try opensAt(1, "a missing history")
        try reset()
        // A missing or wrong pointer does not matter: the newest verified generation is the state.
        try FileManager.default.removeItem(atPath: out + "/checkpoint")
        try opensAt(2, "no pointer")
        try Data("ckpt-000001\n".utf8).write(to: URL(fileURLWithPath: out + "/checkpoint"))
        try opensAt(2, "a stale pointer")
        try reset()
        // Stale temporaries of every kind are removed by the next command that opens the run...
        let junk = ["ckpt-000003.tmp", "checkpoint.tmp", ".history.csv.lstm-tmp", ".dat.nosyncA1b2C3"]
        try FileManager.default.createDirectory(atPath: out + "/ckpt-000003.tmp", withIntermediateDirectories: true)
        try Data("half".utf8).write(to: URL(fileURLWithPath: out + "/ckpt-000003.tmp/model.safetensors"))
        for name in junk.dropFirst() { try Data("x".utf8).write(to: URL(fileURLWithPath: out + "/" + name)) }
        XCTAssertEqual(temporaries(out), junk.sorted())
        // ...but not while a live `lstm train` holds the run's lock (they may be its work in progress).
        do {
            let lock = try RunLock(URL(fileURLWithPath: out))
            expectFailure(["train", "forecast", "--csv", try seriesCSV(), "--out", out, "--resume"] + cpu, "is in use by another `lstm train`")
            expectSuccess(["forecast", "--model", out, "--output", path("f.csv"), "--device", "cpu"])
            XCTAssertEqual(temporaries(out), junk.sorted(), "a reader leaves a live writer's temporaries alone")
            withExtendedLifetime(lock) {}
        }
        try opensAt(2, "with temporaries")
        XCTAssertEqual(temporaries(out), [])
        // Every generation damaged: one line, no crash.
        for g in ["ckpt-000001", "ckpt-000002"] { try FileManager.default.removeItem(atPath: out + "/" + g + "/model.json") }
        expectFailure(["evaluate", "--model", out, "--device", "cpu"], "has no complete checkpoint (ckpt-000002: ckpt-000002/model.json is missing")
        // A directory where the first epoch never committed: no run.
        let never = path("never")
        try FileManager.default.createDirectory(atPath: never + "/ckpt-000001.tmp", withIntermediateDirectories: true)
        expectFailure(["generate", "--model", never], "holds no run")
        XCTAssertEqual(temporaries(never), [])
    }

    /// A run directory of the old layout (everything at the top level, written before the transaction existed,
    /// with the history one epoch behind run.json as kill -9 could leave it) loads and resumes; its first commit
    /// moves it to the new layout.
    func testOldLayoutLoadsAndResumes() throws {
        let out = path("old")
        try trainForecast(out, epochs: 2)
        // Rebuild the old layout from the newest generation: the same files, at the top level, no manifest.
        let generation = state(out)
        for name in try FileManager.default.contentsOfDirectory(atPath: generation) where name != "manifest.json" {
            try FileManager.default.copyItem(atPath: generation + "/" + name, toPath: out + "/" + name)
        }
        for name in entries(out) where CheckpointStore.generationNumber(name) != nil || name == "checkpoint" {
            try FileManager.default.removeItem(atPath: out + "/" + name)
        }
        let history = try JSONDecoder().decode([[String: Double]].self, from: Data(contentsOf: URL(fileURLWithPath: out + "/history.json")))
        try JSONEncoder().encode(Array(history.prefix(1))).write(to: URL(fileURLWithPath: out + "/history.json"))
        XCTAssertEqual(entries(out), ["history.csv", "history.json", "loss.svg", "metrics.svg", "model.json", "model.safetensors",
                                      "normalization.json", "optimizer.safetensors", "run.json"])
        expectSuccess(["forecast", "--model", out, "--output", path("f.csv"), "--device", "cpu"])
        expectSuccess(["evaluate", "--model", out, "--device", "cpu"])
        let before = try epochState(out)
        XCTAssertEqual(before.epochs, 2)
        XCTAssertEqual(before.history, [1])
        expectSuccess(["train", "forecast", "--csv", try seriesCSV(), "--out", out, "--resume", "--epochs", "1"] + cpu)
        let after = try epochState(out)
        XCTAssertEqual(after.epochs, 3)
        XCTAssertEqual(after.history, [1, 3], "the lost epoch stays lost; the new one is recorded")
        XCTAssertEqual(after.steps, before.steps / 2 * 3, "Adam's state was loaded and continued")
        XCTAssertEqual(entries(out), ["checkpoint", "ckpt-000001", "history.csv", "loss.svg", "metrics.svg"],
                       "the old top-level state files are gone once the first generation committed")
        // History entries of an old run are still checked.
        let hostile = path("old-hostile")
        try FileManager.default.createDirectory(atPath: hostile, withIntermediateDirectories: true)
        for name in ["model.json", "model.safetensors", "run.json", "normalization.json"] {
            try FileManager.default.copyItem(atPath: state(out) + "/" + name, toPath: hostile + "/" + name)
        }
        try Data("[{\"epoch\": 1e300, \"loss\": 0.5}]".utf8).write(to: URL(fileURLWithPath: hostile + "/history.json"))
        expectFailure(["train", "forecast", "--csv", try seriesCSV(), "--out", hostile, "--resume"] + cpu,
                      "\(hostile)/history.json: field [0].epoch is 1e+300")
    }

    /// --overwrite leaves the old run loadable until the new run's first checkpoint is complete.
    func testOverwriteTouchesNothingUntilTheFirstCommit() throws {
        let out = path("run")
        try trainForecast(out, epochs: 2)
        let old = try snapshot(out)
        // Inputs that fail their check (values whose variance overflows a Double; once an EncodingError after
        // the model files had been replaced).
        let huge = try write("huge.csv", "t,value\n" + (0..<60).map { "\($0),\($0 % 2 == 0 ? "1e308" : "-1e308")" }.joined(separator: "\n") + "\n")
        expectFailure(["train", "forecast", "--csv", huge, "--column", "value", "--window", "6", "--out", out, "--overwrite"] + cpu,
                      "too large to normalise")
        XCTAssertEqual(try snapshot(out), old)
        // A new run that dies inside its first commit, before the commit point.
        CheckpointStore.afterStep = { if $0 == .wroteManifest { throw Crash(step: $0) } }
        expectFailure(["train", "forecast", "--csv", try seriesCSV(), "--column", "value", "--window", "8", "--hidden", "3", "--epochs", "3",
                       "--out", out, "--overwrite"] + cpu, "simulated crash")
        CheckpointStore.afterStep = nil
        XCTAssertEqual(temporaries(out), ["ckpt-000003.tmp"])
        expectSuccess(["forecast", "--model", out, "--output", path("f.csv"), "--device", "cpu"])
        XCTAssertEqual(try snapshot(out), old, "the old run is intact and the temporaries are gone")
        XCTAssertEqual(try epochState(out).epochs, 2)
        // A new run that completes: only its generation is left.
        expectSuccess(["train", "forecast", "--csv", try seriesCSV(), "--column", "value", "--window", "8", "--hidden", "3", "--epochs", "1",
                       "--out", out, "--overwrite"] + cpu)
        XCTAssertEqual(entries(out).filter { CheckpointStore.generationNumber($0) != nil }, ["ckpt-000003"])
        XCTAssertEqual(try epochState(out).epochs, 1)
        XCTAssertEqual(try RunDirectory(out).config(option: "--model").window, 8)
    }

    /// A NaN loss stops training before the update: a fresh --out is not left behind, a resumed run keeps its checkpoint.
    func testNaNLossLeavesNoDirectoryAndKeepsTheCheckpoint() throws {
        let csv = try seriesCSV()
        let fresh = path("fresh")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "value", "--window", "6", "--lr", "1e308", "--epochs", "2", "--out", fresh] + cpu,
                      "loss became")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh))
        let out = path("run")
        try trainForecast(out)
        let before = try snapshot(out)
        expectFailure(["train", "forecast", "--csv", csv, "--out", out, "--resume", "--lr", "1e308", "--epochs", "2"] + cpu, "loss became")
        XCTAssertEqual(try snapshot(out), before)
        XCTAssertEqual(try epochState(out).epochs, 1)
    }

    // MARK: Hostile values

    func trainCharLM(_ out: String) throws {
        let text = try write("text.txt", String(repeating: "the cat sat on the mat. ", count: 20))
        expectSuccess(["train", "charlm", "--text", text, "--out", out, "--hidden", "4", "--embedding", "3", "--seq-length", "8", "--epochs", "1",
                       "--sample-length", "0"] + cpu)
    }

    /// Each hostile value of the issue's CLI list, in a run file that passes its checksum: one `error:` line naming
    /// the file and the field, never a trap or a hang.
    func testHostileRunFilesAreRefusedNamingFileAndField() throws {
        let out = path("charlm")
        try trainCharLM(out)
        let pristine = path("pristine")
        try FileManager.default.copyItem(atPath: out, toPath: pristine)
        func reset() throws {
            try FileManager.default.removeItem(atPath: out)
            try FileManager.default.copyItem(atPath: pristine, toPath: out)
        }
        let runJSON = "\(out)/ckpt-000001/run.json"
        let cases: [(file: String, from: String, to: String, fragment: String)] = [
            ("run.json", "\"layers\" : 1", "\"layers\" : -1", "\(runJSON): field layers is -1: it must be in 1...1000"),
            ("run.json", "\"sequenceLength\" : 8", "\"sequenceLength\" : 0", "\(runJSON): field sequenceLength is 0"),
            ("run.json", "\"epochsTrained\" : 1", "\"epochsTrained\" : 9223372036854775807", "field epochsTrained is 9223372036854775807"),
            ("run.json", "\"hidden\" : 4", "\"hidden\" : 0", "field hidden is 0"),
            ("run.json", "\"embedding\" : 3", "\"embedding\" : 1000000000000", "field embedding is 1000000000000"),
            ("run.json", "\"batchSize\" : 64", "\"batchSize\" : -3", "field batchSize is -3"),
            ("run.json", "\"learningRate\" : 0.005", "\"learningRate\" : -0.5", "field learningRate is -0.5"),
            ("run.json", "\"dropout\" : 0", "\"dropout\" : 1.5", "field dropout is 1.5"),
            ("run.json", "\"epochsTrained\" : 1", "\"epochsTrained\" : 1e300", "run.json is damaged or from another version"),
            ("run.json", "\"hidden\" : 4", "\"hidden\" : 100000", "would need about"),
            ("vocab.json", "\"characters\" : [", "\"characters\" : [], \"x\" : [", "vocab.json: field characters is empty"),
            ("vocab.json", "\"characters\" : [", "\"characters\" : [\"a\", ", "a character may appear only once"),
            ("vocab.json", "\"characters\" : [", "\"characters\" : [\"ab\", ", "field characters[0] is 'ab'"),
            ("history.json", "\"epoch\" : 1", "\"epoch\" : 1e300", "history.json: field [0].epoch is 1e+300"),
            ("history.json", "\"epoch\" : 1", "\"epoch\" : 0.5", "history.json: field [0].epoch is 0.5"),
            ("model.json", "\"output_dim\" : 3", "\"output_dim\" : 4", "holds a checkpoint of another architecture (Embedding("),
            ("model.json", "\"output_dim\" : 3", "\"output_dim\" : 1000000000000", "model.json layers[0].config.output_dim"),
        ]
        for c in cases {
            try edit(out, c.file) { $0.replacingOccurrences(of: c.from, with: c.to) }
            expectFailure(["generate", "--model", out, "--device", "cpu", "--length", "5"], c.fragment)
            expectFailure(["train", "charlm", "--out", out, "--resume"] + cpu, c.fragment.replacingOccurrences(of: "would need about", with: "would need"))
            try reset()
        }
        expectSuccess(["generate", "--model", out, "--device", "cpu", "--length", "5"])

        // normalization.json of a forecaster.
        let f = path("forecast")
        try trainForecast(f)
        let fPristine = path("f-pristine")
        try FileManager.default.copyItem(atPath: f, toPath: fPristine)
        for (from, to, fragment) in [("\"std\" : ", "\"std\" : -", "normalization.json: field std is -"),
                                     ("\"window\" : 6", "\"window\" : 7", "field window is 7: run.json says 6")] {
            try edit(f, "normalization.json") { $0.replacingOccurrences(of: from, with: to) }
            expectFailure(["forecast", "--model", f, "--device", "cpu"], fragment)
            try FileManager.default.removeItem(atPath: f)
            try FileManager.default.copyItem(atPath: fPristine, toPath: f)
        }
        try edit(f, "run.json") { $0.replacingOccurrences(of: "\"layers\" : 1", with: "\"layers\" : -1") }
        expectFailure(["forecast", "--model", f, "--device", "cpu"], "run.json: field layers is -1")

        // A classifier's run.json and vocab.json.
        let c = path("classify")
        let csv = try write("c.csv", "text,label\n" + (0..<20).map { $0 % 2 == 0 ? "good film \($0),pos" : "bad film \($0),neg" }.joined(separator: "\n") + "\n")
        expectSuccess(["train", "classify", "--csv", csv, "--hidden", "4", "--embedding", "3", "--epochs", "1", "--out", c] + cpu)
        let cPristine = path("c-pristine")
        try FileManager.default.copyItem(atPath: c, toPath: cPristine)
        for (file, from, to, fragment) in [("run.json", "\"layers\" : 1", "\"layers\" : -1", "run.json: field layers is -1"),
                                           ("run.json", "\"level\" : \"word\"", "\"level\" : \"byte\"", "run.json: field level is byte"),
                                           ("vocab.json", "\"neg\",", "\"pos\",", "vocab.json: field labels[1] is 'pos': a label may appear only once"),
                                           ("vocab.json", "\"labels\" : [", "\"labels\" : [\"pos\"], \"x\" : [", "a classifier needs at least two labels")] {
            try edit(c, file) { $0.replacingOccurrences(of: from, with: to) }
            expectFailure(["evaluate", "--model", c, "--device", "cpu"], fragment)
            expectFailure(["train", "classify", "--csv", csv, "--out", c, "--resume"] + cpu, fragment)
            try FileManager.default.removeItem(atPath: c)
            try FileManager.default.copyItem(atPath: cPristine, toPath: c)
        }
        expectSuccess(["evaluate", "--model", c, "--device", "cpu"])
    }

    /// Flags whose arithmetic overflowed, absurd sizes and values that JSON cannot hold.
    func testHostileFlagsAreRefusedUpFront() throws {
        let csv = try seriesCSV()
        let out = path("never")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "value", "--window", "9223372036854775807", "--out", out] + cpu,
                      "--window 9223372036854775807 + --horizon 1 = more than 9223372036854775807 values do not fit")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "value", "--horizon", "9223372036854775807", "--out", out] + cpu,
                      "values do not fit")
        let text = try write("text.txt", String(repeating: "the cat sat on the mat. ", count: 20))
        let ram = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        let (code, errors) = lstm(["train", "charlm", "--text", text, "--hidden", "100000", "--out", out] + cpu)
        XCTAssertEqual(code, 1)
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors[0].contains("--hidden 100000 --layers 1") && errors[0].contains("would need about")
                          && errors[0].contains("this machine has \(RunChecks.gib(Int(ProcessInfo.processInfo.physicalMemory)))"), errors[0])
        XCTAssertGreaterThan(ram, 0)
        expectFailure(["train", "charlm", "--text", text, "--layers", "100000", "--out", out] + cpu, "--layers 100000")
        expectFailure(["train", "charlm", "--text", text, "--layers", "100000", "--out", out] + cpu, "would need about")
        expectFailure(["train", "charlm", "--text", text, "--hidden", "9223372036854775807", "--out", out] + cpu, "would need more than 8 EiB")
        expectFailure(["train", "charlm", "--text", text, "--embedding", "4611686018427387904", "--out", out] + cpu, "would need more than 8 EiB")
        expectFailure(["train", "classify", "--csv", try write("c.csv", "text,label\ngood,pos\nbad,neg\n"), "--hidden", "200000", "--out", out] + cpu,
                      "would need about")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "value", "--layers", "3000", "--hidden", "1", "--out", out] + cpu,
                      "--layers 3000: it must be in 1...1000")
        expectFailure(["train", "charlm", "--text", text, "--epochs", "9223372036854775807", "--out", out] + cpu, "--epochs must be at most")
        expectFailure(["train", "charlm", "--text", text, "--sample-length", "9223372036854775807", "--out", out] + cpu, "--sample-length must be in")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing was written")
        // epochs + epochsTrained cannot overflow.
        let run = path("run")
        try trainForecast(run)
        expectFailure(["train", "forecast", "--csv", csv, "--out", run, "--resume", "--epochs", "\(RunChecks.maxEpochs)"] + cpu,
                      "after the 1 epochs trained so far passes")
        expectFailure(["generate", "--model", run, "--length", "9223372036854775807"], "--length must be in")
        // A CSV whose values overflow when normalised with the stored mean and std.
        let huge = try write("huge.csv", "t,value\n" + (0..<20).map { "\($0),\($0 % 2 == 0 ? "1.7e308" : "-1.7e308")" }.joined(separator: "\n") + "\n")
        expectFailure(["forecast", "--model", run, "--csv", huge, "--device", "cpu"], "line 2 normalises to")
        // Errors of any type are one `error:` line with status 1: an EncodingError, as `lstm` prints it.
        let encoding = EncodingError.invalidValue(Double.infinity, .init(codingPath: [], debugDescription: "Unable to encode Double.infinity"))
        XCTAssertTrue(LSTMTool.describe(encoding).hasPrefix("cannot encode inf as JSON"), LSTMTool.describe(encoding))
    }
}
