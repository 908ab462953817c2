import Foundation
import XCTest
@testable import LSTMCLI
@testable import LSTMKit

/// End-to-end tests of the `lstm` command line on small data: every subcommand runs in-process through
/// `LSTMTool.run` (the same entry point as the binary), then the files it wrote are checked. Bad input must give
/// one line `error: ...`, exit status 1 and leave existing files alone; a few cases also run the built binary.
final class CLITests: CLITestCase {
    func json<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
        try JSONDecoder().decode(T.self, from: try Data(contentsOf: URL(fileURLWithPath: file)))
    }

    // A small text: a few sentences repeated, 1.4k characters.
    var smallText: String {
        String(repeating: "the cat sat on the mat. the dog sat on the log. a cat and a dog. ", count: 22)
    }

    /// A sine wave with a slow trend: 150 rows "t,value".
    func seriesCSV() throws -> String { try seriesCSV(rows: 150) }

    // MARK: charlm, generate, resume

    func testTrainCharLMGenerateEvaluateAndResume() throws {
        let text = try write("text.txt", smallText)
        let out = path("charlm")
        let train = ["train", "charlm", "--text", text, "--out", out, "--hidden", "24", "--seq-length", "16", "--epochs", "4",
                     "--batch-size", "8", "--lr", "0.02", "--sample-length", "0"] + cpu
        XCTAssertEqual(lstm(train).code, 0)
        for file in ["model.json", "model.safetensors", "optimizer.safetensors", "run.json", "vocab.json", "history.json", "manifest.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: state(out) + "/" + file), file)
        }
        XCTAssertEqual(state(out), out + "/ckpt-000004", "one generation per epoch")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(),
                       ["checkpoint", "ckpt-000003", "ckpt-000004", "history.csv", "loss.svg", "metrics.svg"],
                       "the newest generation and the one before, the pointer and the derived files; no temporaries")
        let vocabulary = try json(CharVocabulary.self, state(out) + "/vocab.json").characters
        XCTAssertEqual(vocabulary, Array(Set(smallText.map(String.init))).sorted(), "the characters of the text, sorted")
        let history = try json([[String: Double]].self, state(out) + "/history.json")
        XCTAssertEqual(history.map { $0["epoch"] }, [1, 2, 3, 4])
        XCTAssertLessThan(history.last!["loss"]!, history.first!["loss"]! * 0.8, "the loss falls: \(history.map { $0["loss"]! })")
        XCTAssertLessThan(history.last!["loss"]!, log(Double(vocabulary.count)) * 0.7, "better than uniform guessing")
        let csv = try String(contentsOfFile: out + "/history.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "epoch,loss,accuracy,val_loss,val_accuracy")
        XCTAssertEqual(csv.count, 5)
        let svg = try String(contentsOfFile: out + "/loss.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("<polyline") && svg.contains(">val_loss<") && svg.contains(">epoch<"))

        // generate: the command, then the function it runs (its text is checked).
        XCTAssertEqual(lstm(["generate", "--model", out, "--prompt", "the c", "--length", "40", "--device", "cpu"]).code, 0)
        let sample = try CharLM.generate(run: RunDirectory(out), prompt: "the c", length: 60, temperature: 0.8, seed: 1, device: .cpu)
        XCTAssertTrue(sample.hasPrefix("the c"))
        XCTAssertEqual(sample.unicodeScalars.count, 65)
        XCTAssertTrue(sample.allSatisfy { vocabulary.contains(String($0)) })
        XCTAssertEqual(sample, try CharLM.generate(run: RunDirectory(out), prompt: "the c", length: 60, temperature: 0.8, seed: 1, device: .cpu),
                       "seeded sampling repeats")
        let words = Set(sample.split(whereSeparator: { !$0.isLetter }).map(String.init))
        XCTAssertFalse(words.intersection(["the", "cat", "sat", "on", "dog", "mat", "log"]).isEmpty, "it learnt some words: \(sample)")

        // evaluate on the training text.
        let e = try CharLM.evaluate(run: RunDirectory(out), text: smallText, source: text, device: .cpu, batchSize: 16)
        XCTAssertLessThan(e["perplexity"]!, Double(vocabulary.count) / 2)
        XCTAssertEqual(lstm(["evaluate", "--model", out, "--text", text, "--device", "cpu"]).code, 0)

        // Unseen characters at generation time: one line, nothing written.
        let before = try snapshot(out)
        expectFailure(["generate", "--model", out, "--prompt", "the éclair", "--device", "cpu"], "never saw in training: 'é' (U+00E9)")
        expectFailure(["generate", "--model", out, "--prompt", "Zz", "--device", "cpu"], "'Z' (U+005A)")

        // --resume keeps training the same model and appends to its history.
        XCTAssertEqual(lstm(["train", "charlm", "--text", text, "--out", out, "--resume", "--epochs", "1", "--sample-length", "0"] + cpu).code, 0)
        XCTAssertEqual(try json([[String: Double]].self, state(out) + "/history.json").map { $0["epoch"] }, [1, 2, 3, 4, 5])
        XCTAssertEqual(try json(RunConfig.self, state(out) + "/run.json").epochsTrained, 5)
        XCTAssertNotEqual(try snapshot(out)["ckpt-000005/model.safetensors"], before["ckpt-000004/model.safetensors"], "resumed training changed the weights")

        // Resuming with another architecture, or with a text that has new characters, changes nothing.
        let resumed = try snapshot(out)
        expectFailure(["train", "charlm", "--text", text, "--out", out, "--resume", "--hidden", "32"] + cpu, "--hidden 32 does not match the checkpoint")
        let other = try write("other.txt", smallText + "Éé")
        expectFailure(["train", "charlm", "--text", other, "--out", out, "--resume"] + cpu, "never saw in training")
        // A fresh run into an existing one needs --overwrite.
        expectFailure(["train", "charlm", "--text", text, "--out", out] + cpu, "already holds a run: pass --resume")
        XCTAssertEqual(try snapshot(out), resumed, "failed commands leave the run alone")
    }

    // MARK: forecast

    func testTrainForecastWritesNormalisationAndForecastCSV() throws {
        let csv = try seriesCSV()
        let out = path("forecast")
        XCTAssertEqual(lstm(["train", "forecast", "--csv", csv, "--column", "value", "--time-column", "t", "--window", "12", "--horizon", "3",
                             "--hidden", "16", "--epochs", "12", "--batch-size", "16", "--lr", "0.01", "--out", out] + cpu).code, 0)
        // The normalisation comes from the training part only (the first 80% of the windows, in time order).
        let n = try json(Normalization.self, state(out) + "/normalization.json")
        let values = (0..<150).map { Double(String(format: "%.5f", sin(Double($0) * 0.5) + Double($0) * 0.01))! }
        let windows = 150 - 12 - 3 + 1, trainWindows = windows - Int(Double(windows) * 0.2)
        let part = values[0..<(trainWindows - 1 + 12 + 3)]
        let mean = part.reduce(0, +) / Double(part.count)
        XCTAssertEqual(n.mean, mean, accuracy: 1e-9)
        XCTAssertEqual(n.std, (part.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(part.count)).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual([n.window, n.horizon], [12, 3])
        XCTAssertEqual(n.column, "value")
        let history = try json([[String: Double]].self, state(out) + "/history.json")
        XCTAssertLessThan(history.last!["val_loss"]!, 0.25, "a sine wave is predictable: \(history.map { $0["val_loss"]! })")

        let predictions = path("predictions.csv")
        XCTAssertEqual(lstm(["forecast", "--model", out, "--csv", csv, "--output", predictions, "--device", "cpu"]).code, 0)
        let lines = try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(lines[0], ["row", "t", "actual", "step_1", "step_2", "step_3"])
        XCTAssertEqual(lines.count, 1 + (150 - 12 + 1), "one line per row from window+1, plus one past the data")
        XCTAssertEqual(lines[1][0], "13")
        XCTAssertEqual(lines[1][1], "1912")
        XCTAssertEqual(Double(lines[1][2])!, values[12], accuracy: 1e-9)
        XCTAssertEqual(lines.last![0], "151")
        XCTAssertEqual(lines.last![2], "", "beyond the data: no actual value")
        XCTAssertTrue(lines.dropFirst().allSatisfy { $0[3...].allSatisfy { Double($0) != nil } })
        let f = try Forecaster.forecast(run: RunDirectory(out), csvPath: csv, column: nil, timeColumn: nil, device: .cpu)
        XCTAssertLessThan(f.mae!, f.naiveMAE!, "better than repeating the last value")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("predictions.svg")))
        XCTAssertEqual(lstm(["evaluate", "--model", out, "--csv", csv, "--device", "cpu"]).code, 0)

        // Bad input: nothing is written.
        let before = try snapshot(root.path)
        expectFailure(["forecast", "--model", out, "--csv", csv, "--column", "nope", "--output", path("x.csv")], "has no column 'nope' (its columns: t, value)")
        let bad = try write("bad.csv", "t,value\n1,1.5\n2,abc\n3,2.0\n")
        let afterWrite = try snapshot(root.path)
        expectFailure(["train", "forecast", "--csv", bad, "--column", "value", "--out", path("bad-run")] + cpu,
                      "line 3, column 'value': 'abc' is not a number")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "value", "--window", "200", "--out", path("long")] + cpu,
                      "--window 200 + --horizon 1 = 201 values do not fit")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "valeur", "--out", path("wrong")] + cpu, "has no column 'valeur'")
        expectFailure(["train", "forecast", "--csv", csv, "--column", "value", "--out", out, "--resume", "--window", "6"] + cpu,
                      "--window 6 does not match the checkpoint")
        XCTAssertEqual(try snapshot(root.path), afterWrite)
        XCTAssertEqual(Set(before.keys).union(["bad.csv"]), Set(afterWrite.keys))
    }

    // MARK: classify

    func testTrainClassifyAndEvaluateConfusionMatrix() throws {
        var g = SeededGenerator(seed: 9)
        let positive = ["good", "great", "fine", "lovely"], negative = ["bad", "awful", "poor", "dull"]
        let filler = ["the", "film", "was", "quite", "and", "story", "a", "plot", "very", "music"]
        func row() -> String {
            let label = Bool.random(using: &g) ? "pos" : "neg"
            var words = (0..<Int.random(in: 2...7, using: &g)).map { _ in filler.randomElement(using: &g)! }
            words.insert((label == "pos" ? positive : negative).randomElement(using: &g)!, at: Int.random(in: 0...words.count, using: &g))
            return "\"\(words.joined(separator: " ").capitalized), really\",\(label)"
        }
        let train = try write("train.csv", "review,sentiment\n" + (0..<240).map { _ in row() }.joined(separator: "\n") + "\n")
        let test = try write("test.csv", "review,sentiment\n" + (0..<60).map { _ in row() }.joined(separator: "\n") + "\n")
        let out = path("classify")
        XCTAssertEqual(lstm(["train", "classify", "--csv", train, "--text-column", "review", "--label-column", "sentiment", "--hidden", "16",
                             "--epochs", "8", "--lr", "0.02", "--out", out] + cpu).code, 0)
        let vocab = try json(TokenVocabulary.self, state(out) + "/vocab.json")
        XCTAssertEqual(vocab.labels, ["neg", "pos"])
        XCTAssertEqual(vocab.level, "word")
        XCTAssertTrue(vocab.tokens.contains("good") && vocab.tokens.contains("really") && !vocab.tokens.contains("Good"), "\(vocab.tokens)")
        let spec = try String(contentsOfFile: state(out) + "/model.json", encoding: .utf8)
        XCTAssertTrue(spec.contains("\"mask_zero\" : true"), "Embedding(maskZero)")

        let e = try Classifier.evaluate(run: RunDirectory(out), csvPath: test, textColumn: nil, labelColumn: nil, device: .cpu)
        XCTAssertEqual(e.count, 60)
        XCTAssertEqual(e.confusion.flatMap { $0 }.reduce(0, +), 60)
        XCTAssertGreaterThan(e.accuracy, 0.9, "\(e.confusion)")
        let table = Classifier.table(e)
        XCTAssertTrue(table.contains("rows: true label") && table.contains("neg") && table.contains("pos"), table)
        XCTAssertEqual(lstm(["evaluate", "--model", out, "--csv", test, "--device", "cpu"]).code, 0)

        // An unknown label, a wrong column, a model of another task.
        let odd = try write("odd.csv", "review,sentiment\ngood film,pos\nbad film,meh\n")
        expectFailure(["evaluate", "--model", out, "--csv", odd, "--device", "cpu"], "label 'meh', which the model in")
        expectFailure(["train", "classify", "--csv", train, "--text-column", "text", "--out", path("c2")] + cpu,
                      "has no column 'text' (its columns: review, sentiment)")
        expectFailure(["generate", "--model", out, "--device", "cpu"], "holds a text classifier (task classify), not a character language model")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("c2")))
    }

    // MARK: bad input, devices, demo

    func testBadInputGivesOneLineErrorsAndWritesNothing() throws {
        let out = path("run")
        expectFailure(["train", "charlm", "--text", path("missing.txt"), "--out", out] + cpu, "no such file (check the path given to --text)")
        let empty = try write("empty.txt", "")
        expectFailure(["train", "charlm", "--text", empty, "--out", out] + cpu, "is empty")
        let emptyCSV = try write("empty.csv", "")
        expectFailure(["train", "forecast", "--csv", emptyCSV, "--out", out] + cpu, "is empty")
        let headerOnly = try write("header.csv", "a,b\n")
        expectFailure(["train", "classify", "--csv", headerOnly, "--out", out] + cpu, "has a header but no rows")
        expectFailure(["train", "forecast", "--csv", path("nope.csv"), "--out", out] + cpu, "no such file")
        expectFailure(["train", "charlm", "--out", path("never"), "--resume"] + cpu, "no such run directory: train without --resume first")
        try FileManager.default.createDirectory(atPath: path("empty-dir"), withIntermediateDirectories: true)
        expectFailure(["train", "forecast", "--out", path("empty-dir"), "--resume"] + cpu, "holds no run (no checkpoint, no run.json)")
        expectFailure(["generate", "--model", path("never")], "no such run directory")
        expectFailure(["train", "charlm", "--epochs", "0", "--out", out] + cpu, "--epochs must be at least 1")
        expectFailure(["devices", "--device", "opencl:99"], "--device")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no run directory was created")

        // A checkpoint whose weights come from another architecture.
        let text = try write("text.txt", smallText)
        let a = path("a"), b = path("b")
        XCTAssertEqual(lstm(["train", "charlm", "--text", text, "--out", a, "--hidden", "8", "--seq-length", "16", "--epochs", "1",
                             "--sample-length", "0"] + cpu).code, 0)
        XCTAssertEqual(lstm(["train", "charlm", "--text", text, "--out", b, "--hidden", "12", "--seq-length", "16", "--epochs", "1",
                             "--sample-length", "0"] + cpu).code, 0)
        let gb = state(b), ga = state(a)
        let original = try snapshot(gb)
        try FileManager.default.removeItem(atPath: gb + "/model.json")
        try FileManager.default.copyItem(atPath: ga + "/model.json", toPath: gb + "/model.json")
        try reseal(gb)
        let before = try snapshot(b)
        // b's run.json says hidden 12, its model.json now says 8.
        expectFailure(["generate", "--model", b, "--device", "cpu"], "holds a checkpoint of another architecture (Embedding(")
        expectFailure(["train", "charlm", "--text", text, "--out", b, "--resume"] + cpu, "holds a checkpoint of another architecture")
        expectFailure(["evaluate", "--model", b, "--device", "cpu"], "another architecture")
        XCTAssertEqual(try snapshot(b), before)
        // The right model.json, but the weights of another model.
        try original["model.json"]!.write(to: URL(fileURLWithPath: gb + "/model.json"))
        try FileManager.default.removeItem(atPath: gb + "/model.safetensors")
        try FileManager.default.copyItem(atPath: ga + "/model.safetensors", toPath: gb + "/model.safetensors")
        try reseal(gb)
        let swapped = try snapshot(b)
        expectFailure(["generate", "--model", b, "--device", "cpu"], "model.safetensors does not fit")
        expectFailure(["train", "charlm", "--text", text, "--out", b, "--resume"] + cpu, "model.safetensors does not fit")
        XCTAssertEqual(try snapshot(b), swapped)
    }

    func testDevicesAndDemo() throws {
        XCTAssertEqual(lstm(["devices"]).code, 0)
        XCTAssertEqual(lstm(["devices", "--device", "cpu"]).code, 0)
        expectFailure(["devices", "--device", "tpu"], "--device tpu: no such device")
        // The demo, cut short: the shipped text (embedded in the binary), one epoch of a tiny model.
        let out = path("demo")
        XCTAssertEqual(lstm(["demo", "--hidden", "8", "--bogus-flag"]).code, 64, "usage errors exit 64")
        XCTAssertEqual(lstm(["demo", "--device", "cpu", "--hidden", "8", "--epochs", "1", "--max-chars", "12000", "--length", "30",
                             "--out", out, "--verbose", "0"]).code, 0)
        let vocabulary = try json(CharVocabulary.self, state(out) + "/vocab.json").characters
        let shipped = try ShippedData.string(ShippedData.textName)
        XCTAssertGreaterThan(shipped.utf8.count, 300_000)
        XCTAssertTrue(shipped.contains("ZOOLOGY, n.  The science and history of the animal kingdom"))
        XCTAssertEqual(vocabulary, CharLM.vocabulary(of: String(String.UnicodeScalarView(shipped.unicodeScalars.prefix(12000)))))
        XCTAssertGreaterThan(vocabulary.count, 50)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/loss.svg"))
        XCTAssertEqual(try json(RunConfig.self, state(out) + "/run.json").source, "builtin:devils_dictionary.txt")
        // The shipped series.
        let series = try ShippedData.string(ShippedData.seriesName).split(separator: "\n")
        XCTAssertEqual(series.first, "month,sst")
        XCTAssertEqual(series.count, 1 + 61 * 12)
    }

    func testCSVAndChartHelpers() throws {
        let parsed = try CSVTable.parse("a,b\r\n\"x, \"\"quoted\"\"\",2\n\"multi\nline\",3", path: "t")
        XCTAssertEqual(parsed.map(\.fields), [["a", "b"], ["x, \"quoted\"", "2"], ["multi\nline", "3"]])
        XCTAssertEqual(parsed.map(\.line), [1, 2, 3], "each record's first line")
        XCTAssertThrowsError(try CSVTable.parse("a\n\"open", path: "t.csv")) { XCTAssert("\($0)".contains("never closed"), "\($0)") }
        XCTAssertEqual(csvField("a,b"), "\"a,b\"")
        let svg = LineChart(title: "T & U", xLabel: "epoch", yLabel: "loss",
                            series: [("loss", [1, 2, 3], [3, 2, 1]), ("val_loss", [1, 2, 3], [3.5, .nan, 2])]).svg()
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 1, "val_loss has a gap: two single points, no line")
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2)
        XCTAssertTrue(svg.contains("T &amp; U"))
        XCTAssertEqual(LineChart.ticks(0, 1, count: 6), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
    }

    // MARK: the binary

    /// The built `lstm` next to the test bundle (swift build / swift test put both in the same directory).
    func binary() throws -> URL {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                          Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("lstm") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("the lstm binary is not built next to the tests (looked in \(candidates.map(\.path))): run swift build first")
        }
        return found
    }

    func runBinary(_ args: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testBinaryExitCodesAndMessages() throws {
        let missing = try runBinary(["train", "forecast", "--csv", path("missing.csv"), "--out", path("x"), "--device", "cpu"])
        XCTAssertEqual(missing.code, 1)
        XCTAssertEqual(missing.stderr, "error: \(path("missing.csv")): no such file (check the path given to --csv)\n")
        let bad = try write("bad.csv", "month,sst\n2000-01,24.1\n2000-02,n/a\n")
        let nonNumeric = try runBinary(["train", "forecast", "--csv", bad, "--column", "sst", "--out", path("x"), "--device", "cpu"])
        XCTAssertEqual(nonNumeric.code, 1)
        XCTAssertEqual(nonNumeric.stderr, "error: \(bad) line 3, column 'sst': 'n/a' is not a number: fix or remove that line\n")
        let resume = try runBinary(["train", "charlm", "--out", path("nothing"), "--resume", "--device", "cpu"])
        XCTAssertEqual(resume.code, 1)
        XCTAssertTrue(resume.stderr.hasPrefix("error: --resume: --out \(path("nothing")): no such run directory"), resume.stderr)
        XCTAssertEqual(resume.stderr.filter { $0 == "\n" }.count, 1)
        let usage = try runBinary(["train", "charlm", "--bogus"])
        XCTAssertEqual(usage.code, 64)
        XCTAssertTrue(usage.stderr.contains("Unknown option '--bogus'"), usage.stderr)
        let help = try runBinary(["--help"])
        XCTAssertEqual(help.code, 0)
        XCTAssertTrue(help.stdout.contains("demo") && help.stdout.contains("forecast") && help.stdout.contains("devices"), help.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x")))
    }
}
