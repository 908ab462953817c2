import Foundation
import XCTest
@testable import LSTMKit

/// Weight files, optimizer state and model descriptions from strangers: every loader gives a typed error naming
/// the tensor or field (and the file), never a trap, a hang or a silently wrong model.
final class HostileFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-hostile-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A safetensors file from a header text and a payload (the header length is right unless given).
    private func file(_ header: String, payload: [UInt8] = [], length: UInt64? = nil, name: String = "t.safetensors") throws -> URL {
        var data = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(h)
        data.append(contentsOf: payload)
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    private func f32(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }
    private func f64(_ values: [Double]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }

    /// The error `body` throws, as (tensor, reason); fails the test if it throws anything else or nothing.
    private func stateDictError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> (tensor: String, reason: String) {
        do {
            _ = try body()
            XCTFail("no error", file: file, line: line)
        } catch let LSTMKitError.stateDict(tensor, reason) {
            return (tensor, reason)
        } catch {
            XCTFail("not a stateDict error: \(error)", file: file, line: line)
        }
        return ("", "")
    }

    private func member(_ name: String, _ shape: [Int], _ begin: Int, _ end: Int, dtype: String = "F32") -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
    }

    // MARK: The safetensors format

    func testOffsetsMustCoverTheDataExactlyOnce() throws {
        let two = f32([1, 2, 3, 4])
        // Valid: two tensors side by side, listed in either order.
        let ok = try SafeTensors.read(try file("{" + member("b", [2], 8, 16) + "," + member("a", [2], 0, 8) + "}", payload: two))
        XCTAssertEqual(ok["a"]?.values, [1, 2])
        XCTAssertEqual(ok["b"]?.values, [3, 4])
        // Overlap: both start at 0 (the old loader accepted this and read the same bytes twice).
        var e = stateDictError(try SafeTensors.read(try file("{" + member("a", [2], 0, 8) + "," + member("b", [2], 0, 8) + "}", payload: two)))
        XCTAssertEqual(e.tensor, "b")
        XCTAssertTrue(e.reason.contains("overlap"), e.reason)
        // A hole between them.
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [1], 0, 4) + "," + member("b", [2], 8, 16) + "}", payload: two)))
        XCTAssertEqual(e.tensor, "b")
        XCTAssertTrue(e.reason.contains("hole"), e.reason)
        // Bytes after the last tensor, and a tensor past the end.
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [3], 0, 12) + "}", payload: two)))
        XCTAssertEqual(e.tensor, "<header>")
        XCTAssertTrue(e.reason.contains("cover 12 bytes") && e.reason.contains("16 bytes of data"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [5], 0, 20) + "}", payload: two)))
        XCTAssertEqual(e.tensor, "a")
        XCTAssertTrue(e.reason.contains("run past the end"), e.reason)
        // Reversed offsets with a negative dimension (the old loader reached subdata with a reversed range).
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [-1, -4], 16, 0) + "}", payload: two)))
        XCTAssertEqual(e.tensor, "a")
        XCTAssertTrue(e.reason.contains("shape dimension 0 is the number -1"), e.reason)
        // Reversed offsets alone.
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [0], 16, 0) + "}", payload: two)))
        XCTAssertTrue(e.reason.contains("end before they begin"), e.reason)
        // Every error names the file.
        XCTAssertTrue(e.reason.contains(directory.path), e.reason)
    }

    func testShapesAndOffsetsAreCheckedIntegers() throws {
        let payload = f32([1, 2])
        for (shape, what) in [("[1e300]", "the number 1e300"), ("[2.0]", "the number 2.0"), ("[-0]", "the number -0"),
                              ("[\"2\"]", "a string"), ("[null]", "null"), ("[99999999999999999999]", "the number 99999999999999999999")] {
            let url = try file("{\"a\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,8]}}", payload: payload)
            let e = stateDictError(try SafeTensors.read(url))
            XCTAssertEqual(e.tensor, "a")
            XCTAssertTrue(e.reason.contains("shape dimension 0 is \(what), not a non-negative integer"), e.reason)
        }
        // Element and byte counts that overflow Int are errors, not traps.
        var e = stateDictError(try SafeTensors.read(try file("{" + member("a", [4611686018427387904, 4], 0, 8) + "}", payload: payload)))
        XCTAssertTrue(e.reason.contains("more elements than Int can count"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [4611686018427387904], 0, 8) + "}", payload: payload)))
        XCTAssertTrue(e.reason.contains("needs more bytes than Int can count"), e.reason)
        // data_offsets too big for Int, or the wrong size for the shape.
        e = stateDictError(try SafeTensors.read(try file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}", payload: payload)))
        XCTAssertTrue(e.reason.contains("are not two non-negative integers"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [3], 0, 8) + "}", payload: payload)))
        XCTAssertTrue(e.reason.contains("hold 8 bytes, but shape [3] of F32 needs 12"), e.reason)
        // A dtype of the format LSTMKit does not read, and one that is not in the format.
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [4], 0, 8, dtype: "F16") + "}", payload: payload)))
        XCTAssertTrue(e.reason.contains("dtype F16 is not supported"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{" + member("a", [2], 0, 8, dtype: "F31") + "}", payload: payload)))
        XCTAssertTrue(e.reason.contains("dtype \"F31\" is not a safetensors dtype"), e.reason)
        // A zero-size tensor anywhere is fine.
        let ok = try SafeTensors.read(try file("{" + member("a", [2], 0, 8) + "," + member("z", [0, 3], 8, 8) + "}", payload: payload))
        XCTAssertEqual(ok["z"]?.shape, [0, 3])
        XCTAssertEqual(ok["z"]?.values, [])
    }

    func testHeaderLengthAndJSON() throws {
        let payload = f32([1, 2])
        let header = "{" + member("a", [2], 0, 8) + "}"
        var e = stateDictError(try SafeTensors.read(try file(header, payload: payload, length: 100_000_001)))
        XCTAssertEqual(e.tensor, "<header>")
        XCTAssertTrue(e.reason.contains("exceeds the 100000000-byte limit"), e.reason)
        e = stateDictError(try SafeTensors.read(try file(header, payload: payload, length: UInt64.max)))
        XCTAssertTrue(e.reason.contains("exceeds"), e.reason)
        e = stateDictError(try SafeTensors.read(try file(header, payload: payload, length: UInt64(header.utf8.count + 9))))
        XCTAssertTrue(e.reason.contains("runs past the end of the"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("[1]")))
        XCTAssertTrue(e.reason.contains("does not start with '{'"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{\"a\":")))
        XCTAssertTrue(e.reason.contains("not valid JSON"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{\"a\":" + String(repeating: "[", count: 100_000))))
        XCTAssertTrue(e.reason.contains("nested more than"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{\"a\":\"\\ud800\"}")))
        XCTAssertTrue(e.reason.contains("surrogate"), e.reason)
        // Trailing spaces pad the header, as the writers do.
        XCTAssertEqual(try SafeTensors.read(try file(header + "      ", payload: payload))["a"]?.values, [1, 2])
        // Short files.
        for n in 0..<8 {
            try Data(repeating: 0, count: n).write(to: directory.appendingPathComponent("short"))
            e = stateDictError(try SafeTensors.read(directory.appendingPathComponent("short")))
            XCTAssertEqual(e.tensor, "<header>")
        }
    }

    func testDuplicateNamesAndMetadata() throws {
        let payload = f32([1, 2])
        // JSONSerialization kept one of two equal keys silently; both spellings of "café" are one Swift string.
        for second in ["a", "\\u0061"] {
            let e = stateDictError(try SafeTensors.read(try file("{" + member("a", [2], 0, 8) + "," + member(second, [0], 8, 8) + "}", payload: payload)))
            XCTAssertEqual(e.tensor, "a")
            XCTAssertTrue(e.reason.contains("appears more than once"), e.reason)
        }
        var e = stateDictError(try SafeTensors.read(try file("{" + member("caf\\u00e9", [2], 0, 8) + "," + member("cafe\\u0301", [0], 8, 8) + "}", payload: payload)))
        XCTAssertTrue(e.reason.contains("appears more than once"), e.reason)
        e = stateDictError(try SafeTensors.read(try file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", payload: payload)))
        XCTAssertTrue(e.reason.contains("has two shape fields"), e.reason)
        // __metadata__ maps strings to strings, once each.
        let url = try file("{\"__metadata__\":{\"format\":\"pt\"}," + member("a", [2], 0, 8) + "}", payload: payload)
        XCTAssertEqual(try SafeTensors.metadata(url), ["format": "pt"])
        for (meta, what) in [("{\"format\":5}", "holds the number 5, not a string"), ("[]", "is an array, not an object"),
                             ("{\"optimizer\":\"Adam\",\"optimizer\":\"SGD\"}", "appears more than once")] {
            let url = try file("{\"__metadata__\":\(meta)," + member("a", [2], 0, 8) + "}", payload: payload)
            for body in [{ _ = try SafeTensors.metadata(url) }, { _ = try SafeTensors.read(url) }] {
                e = stateDictError(try body())
                XCTAssertEqual(e.tensor, "__metadata__")
                XCTAssertTrue(e.reason.contains(what), e.reason)
            }
        }
        // metadata() validates the whole header, so a file read() refuses has no metadata either.
        e = stateDictError(try SafeTensors.metadata(try file("{\"__metadata__\":{}," + member("a", [2], 0, 8) + "," + member("b", [2], 0, 8) + "}", payload: payload)))
        XCTAssertEqual(e.tensor, "b")
    }

    /// Two bad tensors: the error is the first by name, wherever they are in the file; and the same file gives the
    /// same messages in separate processes (whose Dictionary seeds differ).
    func testErrorsDoNotDependOnOrder() throws {
        let payload = f32([1, 2, 3, 4])
        let bad = [member("zeta", [2], 0, 8, dtype: "F16"), member("alpha", [-3], 8, 16), member("mid", [2], 8, 16)]
        var messages = Set<String>()
        for permutation in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            let url = try file("{" + permutation.map { bad[$0] }.joined(separator: ",") + "}", payload: payload)
            let e = stateDictError(try SafeTensors.read(url))
            XCTAssertEqual(e.tensor, "alpha")
            messages.insert(e.reason)
        }
        XCTAssertEqual(messages.count, 1, "\(messages)")
        // Offsets: the first overlap by position is reported, whatever the names and their order.
        for names in [["p", "q", "r"], ["r", "q", "p"]] {
            let url = try file("{" + member(names[0], [1], 4, 8) + "," + member(names[1], [1], 0, 4) + "," + member(names[2], [1], 4, 8) + "}",
                               payload: f32([1, 2]))
            XCTAssertEqual(stateDictError(try SafeTensors.read(url)).tensor, "r")
        }
        // In child processes: the same hostile files, the same lines.
        let mutations = try loadCheck(["fuzz", "--count", "300", "--batch", "300", "--jobs", "1", "--keep", "--work", directory.appendingPathComponent("w").path])
        XCTAssertEqual(try summary(mutations).files, 300)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("w/batch-0").path)
            .map { directory.appendingPathComponent("w/batch-0/\($0)").path }.sorted()
        let runs = try (0..<2).map { _ in try loadCheck(["check", directory.appendingPathComponent("w/base").path], input: files.joined(separator: "\n") + "\n") }
        XCTAssertEqual(runs[0].components(separatedBy: "\n").filter { $0.hasPrefix("R\t") }.count, files.reduce(0) { $0 + ($1.hasSuffix(".json") || $1.hasSuffix(".npy") || $1.hasSuffix(".npz") ? 1 : $1.hasSuffix(".onnx") ? 2 : 5) })
        XCTAssertEqual(runs[0], runs[1])
    }

    // MARK: Parameters and optimizer state

    func testNonFiniteParametersAreRefusedUnlessAllowed() throws {
        let lstm = try LSTM(inputSize: 2, hiddenSize: 2, seed: 3)
        let url = directory.appendingPathComponent("lstm.safetensors")
        try lstm.save(to: url)
        var entries = try SafeTensors.read(url)
        let w = entries["weight_ih_l0"]!
        var values = w.values
        values[0] = .nan; values[3] = .infinity; values[5] = -.infinity
        entries["weight_ih_l0"] = SafeTensors.Entry(dtype: "F32", shape: w.shape, values: values)
        try SafeTensors.write(lstm.parameterNames.map { (name: $0, entry: entries[$0]!) }, to: url)
        let before = try lstm.parameters["weight_ih_l0"]!.toArray()
        let e = stateDictError(try lstm.load(from: url))
        XCTAssertEqual(e.tensor, "weight_ih_l0")
        XCTAssertTrue(e.reason.hasPrefix("holds 3 non-finite values") && e.reason.contains("lstm.safetensors"), e.reason)
        XCTAssertEqual(try lstm.parameters["weight_ih_l0"]!.toArray(), before, "nothing changes on error")
        try lstm.load(from: url, allowNonFinite: true)
        XCTAssertTrue(try lstm.parameters["weight_ih_l0"]!.toArray()[0].isNaN)
        // An F64 value too large for Float32 becomes infinity there: refused on Float32, loaded on Float64.
        var big = try SafeTensors.read(url)
        big["weight_ih_l0"] = SafeTensors.Entry(dtype: "F64", shape: w.shape, values: w.values.enumerated().map { $0.offset == 1 ? 1e300 : $0.element })
        try SafeTensors.write(lstm.parameterNames.map { (name: $0, entry: big[$0]!) }, to: url)
        XCTAssertTrue(stateDictError(try lstm.load(from: url)).reason.hasPrefix("holds 1 non-finite values"))
        let lstm64 = try LSTM(inputSize: 2, hiddenSize: 2, device: .cpuFloat64, seed: 3)
        try lstm64.load(from: url)
        XCTAssertEqual(try lstm64.parameters["weight_ih_l0"]!.toDoubles()[1], 1e300)

        // The same for a Sequential's weights.
        let model = Sequential([LSTMLayer(units: 3), Dense(units: 2)], seed: 1)
        try model.build(inputShape: [4, 2])
        let dir = directory.appendingPathComponent("run")
        try model.save(to: dir)
        let weights = dir.appendingPathComponent("model.safetensors")
        var saved = try SafeTensors.read(weights)
        let bias = saved["1.bias"]!
        saved["1.bias"] = SafeTensors.Entry(dtype: "F32", shape: bias.shape, values: [.nan, 0])
        try SafeTensors.write(model.namedParameters.map { (name: $0.name, entry: saved[$0.name]!) }, to: weights)
        let f = stateDictError(try Sequential.load(from: dir))
        XCTAssertEqual(f.tensor, "1.bias")
        XCTAssertTrue(f.reason.hasPrefix("holds 1 non-finite values") && f.reason.contains("model.safetensors"), f.reason)
        XCTAssertTrue(try Sequential.load(from: dir, allowNonFinite: true).namedParameters.first { $0.name == "1.bias" }!.tensor.toArray()[0].isNaN)
    }

    func testOptimizerStateIsRangeChecked() throws {
        let dir = directory.appendingPathComponent("run")
        let model = Sequential([Dense(units: 2)], seed: 1)
        model.compile(optimizer: try Adam(), loss: .meanSquaredError)
        _ = try model.trainOnBatch(x: try DataArray(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), y: try DataArray(shape: [2, 2], values: [1, 0, 0, 1]))
        try model.save(to: dir)
        let url = dir.appendingPathComponent("optimizer.safetensors")
        let good = try SafeTensors.read(url)
        XCTAssertEqual(good.keys.sorted(), ["iterations", "state.0.0", "state.0.1"])
        func write(_ entries: [String: SafeTensors.Entry]) throws {
            try SafeTensors.write(entries.keys.sorted().map { (name: $0, entry: entries[$0]!) }, metadata: ["optimizer": "Adam"], to: url)
        }
        let fresh = try Sequential.load(from: dir)
        fresh.compile(optimizer: try Adam(), loss: .meanSquaredError)
        // The step count: 1e300, infinity, NaN, negative, fractional, too large.
        for steps in [1e300, .infinity, .nan, -1, 0.5, 9007199254740994] {
            var e = good
            e["iterations"] = SafeTensors.Entry(dtype: "F64", shape: [1], values: [steps])
            try write(e)
            let err = stateDictError(try fresh.loadOptimizerState(from: dir))
            XCTAssertEqual(err.tensor, "iterations", "\(steps)")
            XCTAssertTrue(err.reason.contains("not a whole number of steps"), err.reason)
        }
        var e = good
        e["iterations"] = SafeTensors.Entry(dtype: "F64", shape: [2], values: [1, 1])
        try write(e)
        XCTAssertTrue(stateDictError(try fresh.loadOptimizerState(from: dir)).reason.contains("has shape [2], expected [1]"))
        // Names: "state." trapped before; none of these is a state tensor of this model.
        for (name, what) in [("state.", "is not an optimizer state tensor"), ("state.x.y", "is not an optimizer state tensor"),
                             ("state.1", "is not an optimizer state tensor"), ("state.01.0", "is not an optimizer state tensor"),
                             ("state.-1.0", "more parameter buffers"), ("state.99999999999999999999.0", "is not an optimizer state tensor"),
                             ("state.1.0", "more parameter buffers"), ("state.0.2", "keeps 2 state tensors per buffer"), ("momentum", "is not an optimizer state tensor")] {
            var e = good
            e[name] = good["state.0.0"]
            try write(e)
            let err = stateDictError(try fresh.loadOptimizerState(from: dir))
            XCTAssertEqual(err.tensor, name)
            XCTAssertTrue(err.reason.contains(what) && err.reason.contains("optimizer.safetensors"), "\(name): \(err.reason)")
        }
        // One of a buffer's moments missing.
        e = good
        e["state.0.0"] = nil
        try write(e)
        XCTAssertEqual(stateDictError(try fresh.loadOptimizerState(from: dir)).tensor, "state.0.0")
        // Non-finite moments, unless allowed.
        e = good
        let m = good["state.0.1"]!
        e["state.0.1"] = SafeTensors.Entry(shape: m.shape, values: [.infinity] + m.values.dropFirst())
        try write(e)
        let err = stateDictError(try fresh.loadOptimizerState(from: dir))
        XCTAssertEqual(err.tensor, "state.0.1")
        XCTAssertTrue(err.reason.hasPrefix("holds 1 non-finite values"), err.reason)
        XCTAssertEqual(fresh.optimizer?.iterations, 0, "nothing changes on error")
        XCTAssertTrue(try fresh.loadOptimizerState(from: dir, allowNonFinite: true))
        XCTAssertEqual(fresh.optimizer?.iterations, 1)
    }

    // MARK: model.json

    /// Writes a model.json with `layers` (a JSON array) and matching weights when the model is valid.
    private func modelJSON(_ layers: String, inputShape: String = "[5]") throws -> URL {
        let dir = directory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("{\"format\":\"lstmkit.sequential\",\"version\":1,\"seed\":1,\"inputShape\":\(inputShape),\"layers\":\(layers)}".utf8)
            .write(to: dir.appendingPathComponent("model.json"))
        return dir
    }

    private func invalidArgument<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> (name: String, reason: String) {
        do {
            _ = try body()
            XCTFail("no error", file: file, line: line)
        } catch let LSTMKitError.invalidArgument(name, _, reason) {
            return (name, reason)
        } catch {
            XCTFail("not an invalidArgument error: \(error)", file: file, line: line)
        }
        return ("", "")
    }

    func testModelJSONFieldsAreRangeChecked() throws {
        let embedding = "{\"type\":\"Embedding\",\"inputDim\":6,\"outputDim\":3}"
        let cases: [(layers: String, inputShape: String, field: String, reason: String)] = [
            ("[\(embedding),{\"type\":\"Dense\",\"units\":1000000000000}]", "[5]", "model.json layers[1].units", "must be in 1...16777216"),
            ("[\(embedding),{\"type\":\"LSTM\",\"units\":1000000}]", "[5]", "model.json layers[1]", "more than 2147483648 parameters"),
            ("[{\"type\":\"Embedding\",\"inputDim\":1099511627776,\"outputDim\":3}]", "[5]", "model.json layers[0].inputDim", "must be in 1...16777216"),
            ("[{\"type\":\"Embedding\",\"inputDim\":16777216,\"outputDim\":16777216}]", "[5]", "model.json layers[0]", "more than 2147483648 parameters"),
            ("[\(embedding)]", "[-5]", "model.json inputShape[0]", "must be in 1...16777216"),
            ("[\(embedding)]", "[4611686018427387904]", "model.json inputShape[0]", "must be in 1...16777216"),
            ("[\(embedding)]", "[]", "model.json inputShape", "must have 1 to 8 dimensions"),
            ("[{\"type\":\"LSTM\",\"units\":4}]", "[16777216, 16777216]", "model.json inputShape", "more than 2147483648 values"),
            ("[\(embedding),{\"type\":\"Dense\",\"units\":0}]", "[5]", "model.json layers[1].units", "must be in 1...16777216"),
            ("[\(embedding),{\"type\":\"Dropout\",\"rate\":1}]", "[5]", "model.json layers[1].rate", "must be in [0, 1)"),
            ("[\(embedding),{\"type\":\"Dropout\"}]", "[5]", "model.json layers[1].rate", "required"),
            ("[\(embedding),{\"type\":\"LSTM\",\"units\":4,\"projSize\":4}]", "[5]", "model.json layers[1].projSize", "less than units 4"),
            ("[\(embedding),{\"type\":\"LSTM\",\"units\":4,\"cellClip\":-1}]", "[5]", "model.json layers[1].cellClip", "finite number > 0"),
            ("[\(embedding),{\"type\":\"LSTM\",\"units\":4,\"recurrentDropout\":1.5}]", "[5]", "model.json layers[1].recurrentDropout", "[0, 1)"),
            ("[\(embedding),{\"type\":\"GRU\",\"units\":4,\"peephole\":true}]", "[5]", "model.json layers[1].peephole", "a GRU has no peephole"),
            ("[\(embedding),{\"type\":\"Bidirectional\",\"mergeMode\":\"bogus\",\"layer\":[{\"type\":\"LSTM\",\"units\":4}]}]", "[5]",
             "model.json layers[1].mergeMode", "must be concat, sum, mul or average"),
            ("[\(embedding),{\"type\":\"Bidirectional\",\"layer\":[{\"type\":\"LSTM\",\"units\":4},{\"type\":\"LSTM\",\"units\":4}]}]", "[5]",
             "model.json layers[1].layer", "wraps exactly one layer"),
            ("[\(embedding),{\"type\":\"Bidirectional\",\"layer\":[{\"type\":\"Dense\",\"units\":4}]}]", "[5]", "model.json layers[1].layer[0].type", "an LSTM or GRU"),
            ("[\(embedding),{\"type\":\"LSTM\",\"units\":4},{\"type\":\"LSTM\",\"units\":4}]", "[5]", "model.json layers[2]", "needs [T, features] per sample"),
            ("[\(embedding),{\"type\":\"Conv1D\"}]", "[5]", "model.json layers[1].type", "unknown layer type"),
            // Values the decoder cannot represent: typed errors naming the field, not raw DecodingErrors.
            ("[\(embedding),{\"type\":\"Dense\",\"units\":1e300}]", "[5]", "model.json layers[1].units", "not a whole number that fits in Int"),
            ("[\(embedding),{\"type\":\"Dense\",\"units\":2.5}]", "[5]", "model.json layers[1].units", "not a whole number"),
            ("[\(embedding),{\"type\":\"Dense\",\"units\":1e12}]", "[5]", "model.json layers[1].units", "must be in 1...16777216"),
            ("[\(embedding),{\"type\":\"Dense\",\"units\":\"4\"}]", "[5]", "model.json layers[1].units", ""),
            ("[\(embedding),{\"type\":\"Dense\",\"units\":2,\"activation\":\"swish\"}]", "[5]", "model.json layers[1].activation", ""),
            ("[\(embedding),{\"units\":2}]", "[5]", "model.json layers[1].type", "required"),
            ("[]", "[5]", "model.json layers", "at least one layer"),
            ("[\(embedding),{\"type\":\"Sequential\",\"layer\":[]}]", "[5]", "model.json layers[1].layer", "at least one layer"),
            ("[\(embedding),{\"type\":\"Dropout\",\"rate\":1e400}]", "[5]", "model.json layers[1].rate", "not a finite number"),
            ("[\(embedding),{\"type\":\"Dense\",\"units\":2,\"units\":3}]", "[5]", "model.json layers[1].units", "only once"),
        ]
        for c in cases {
            let dir = try modelJSON(c.layers, inputShape: c.inputShape)
            let e = invalidArgument(try Sequential.load(from: dir))
            XCTAssertEqual(e.name, c.field, c.layers)
            XCTAssertTrue(c.reason.isEmpty || e.reason.contains(c.reason), "\(c.layers): \(e.reason)")
        }
        // Nesting: 8 levels load, 9 do not; 100,000 are refused without exhausting the stack.
        func nested(_ depth: Int) -> String {
            "[\(embedding),{\"type\":\"LSTM\",\"units\":2,\"returnSequences\":true},"
                + String(repeating: "{\"type\":\"Sequential\",\"layer\":[", count: depth - 1) + "{\"type\":\"Dense\",\"units\":2}" + String(repeating: "]}", count: depth - 1) + "]"
        }
        XCTAssertNoThrow(try ModelSpec.decode(try Data(contentsOf: try modelJSON(nested(8)).appendingPathComponent("model.json"))))
        XCTAssertTrue(invalidArgument(try Sequential.load(from: try modelJSON(nested(9)))).reason.contains("nest more than 8 deep"))
        XCTAssertTrue(invalidArgument(try Sequential.load(from: try modelJSON(nested(100_000)))).name.hasPrefix("model.json"))
        // Not JSON at all.
        let dir = try modelJSON("[")
        XCTAssertEqual(invalidArgument(try Sequential.load(from: dir)).name, "model.json")
    }

    // MARK: Seeded mutations, each load in a child process

    private struct Summary: Decodable {
        var files: Int, loads: Int, accepted: Int, rejected: Int, children: Int, seconds: Double
        var traps: [String], hangs: [String], unnamed: [String]
        var errorKinds: [String: Int]
    }

    private func summary(_ output: String) throws -> Summary {
        guard let start = output.firstIndex(of: "{") else { throw LSTMKitError.io(path: "lstmkit-load-check", reason: "no summary in \(output)") }
        return try JSONDecoder().decode(Summary.self, from: Data(output[start...].utf8))
    }

    /// Runs lstmkit-load-check (built next to the test bundle) and returns its standard output.
    private func loadCheck(_ arguments: [String], input: String? = nil) throws -> String {
        // Next to the test binary (…/debug/LSTMKitPackageTests.xctest): the build's products directory.
        let products = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let tool = products.appendingPathComponent("lstmkit-load-check")
        guard FileManager.default.isExecutableFile(atPath: tool.path) else {
            XCTFail("\(tool.path) is missing: build it with `swift build --build-tests`")
            throw LSTMKitError.io(path: tool.path, reason: "missing")
        }
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        let output = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "lstmkit-load-check \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }

    /// 20,000 structure-aware mutations of a valid LSTM state dict, model weights, Adam state, model.json, the
    /// model's ONNX export (wire-level protobuf edits), and a numpy .npy and deflated .npz (DataArray's loaders), each through every public loader (ONNXImport.sequential and
    /// .network for the ONNX file) in child processes: no trap, no hang, and every rejection names a tensor, field
    /// or ONNX node/part.
    func testSeededMutationsNeverTrapOrHang() throws {
        let s = try summary(try loadCheck(["fuzz", "--seed", "13", "--count", "20000", "--batch", "1000", "--jobs", "2", "--timeout", "120"]))
        print("seeded mutations: \(s.files) files, \(s.loads) loads, \(s.accepted) accepted, \(s.rejected) rejected in \(s.errorKinds.count) kinds, "
              + "\(s.traps.count) traps, \(s.hangs.count) hangs, \(s.children) children, \(String(format: "%.1f", s.seconds)) s")
        XCTAssertEqual(s.files, 20000)
        XCTAssertEqual(s.traps, [], "these files trapped a loader (kept for a rerun: lstmkit-load-check check BASEDIR < list)")
        XCTAssertEqual(s.hangs, [])
        XCTAssertEqual(s.unnamed, [])
        XCTAssertGreaterThan(s.loads, 5 * 20000 / 2, "safetensors files (3 roles of 8) go through 5 loaders, ONNX through 2, model.json (two roles), .npy and .npz through 1: about 2.6 loads a file")
        XCTAssertGreaterThan(s.accepted, 0, "some mutations leave a valid file")
        XCTAssertGreaterThan(s.errorKinds.count, 30)
    }

    /// The harness itself: a file that traps the loader process and one that hangs it are reported by name, and the
    /// files after them in their batch are still checked.
    func testTheHarnessReportsTrapsAndHangs() throws {
        let s = try summary(try loadCheck(["fuzz", "--seed", "5", "--count", "40", "--batch", "40", "--jobs", "1", "--timeout", "10",
                                           "--inject-trap", "--inject-hang", "--work", directory.appendingPathComponent("fuzz").path]))
        XCTAssertEqual(s.traps.map { URL(fileURLWithPath: $0).lastPathComponent }, ["injected-trap.model.safetensors"])
        XCTAssertEqual(s.hangs.map { URL(fileURLWithPath: $0).lastPathComponent }, ["injected-hang.model.safetensors"])
        XCTAssertEqual(s.children, 3)
        XCTAssertEqual(s.accepted + s.rejected, s.loads)
        // Every generated file was checked: 5 loads per safetensors file, 1 per model.json.
        XCTAssertGreaterThanOrEqual(s.loads, 40)
        XCTAssertEqual(s.files, 42)
    }
}
