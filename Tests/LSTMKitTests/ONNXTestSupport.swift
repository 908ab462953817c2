import Foundation
import XCTest
@testable import LSTMKit

/// Skips (with a loud line) when python3 lacks onnx, onnxruntime, safetensors or numpy (`.ci/run` installs them).
func onnxRuntimeOrSkip() throws {
    guard pythonImports("onnx, onnxruntime, safetensors, numpy") else {
        let message = "*** python3 with onnx, onnxruntime, safetensors and numpy not installed: ONNX round-trip test SKIPPED (pip install onnx onnxruntime safetensors numpy) ***"
        print(message)
        throw XCTSkip(message)
    }
}

/// One onnxruntime run: graph input name → (shape, values).
typealias ORTFeed = [String: (shape: [Int], values: [Double])]

/// Runs `model` in onnxruntime (Tests/Fixtures/run_onnxruntime.py, in a child process) once per feed; returns each
/// run's outputs by graph output name.
func runONNXRuntime(_ model: Data, _ feeds: [ORTFeed]) throws -> [[String: SafeTensors.Entry]] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-onnx-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let modelURL = dir.appendingPathComponent("model.onnx"), inURL = dir.appendingPathComponent("in.safetensors")
    let outURL = dir.appendingPathComponent("out.safetensors")
    try model.write(to: modelURL)
    var entries: [(name: String, entry: SafeTensors.Entry)] = []
    for (k, feed) in feeds.enumerated() {
        for (name, v) in feed.sorted(by: { $0.key < $1.key }) {
            entries.append(("run\(k)/\(name)", SafeTensors.Entry(dtype: "F32", shape: v.shape, values: v.values)))
        }
    }
    try SafeTensors.write(entries, to: inURL)
    let run = Process()
    run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    run.arguments = ["python3", fixturesDirectory.appendingPathComponent("run_onnxruntime.py").path, modelURL.path, inURL.path, outURL.path]
    let err = Pipe()
    run.standardError = err
    try run.run()
    let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    run.waitUntilExit()
    guard run.terminationStatus == 0 else {
        XCTFail("onnxruntime failed (status \(run.terminationStatus)):\n\(errText.suffix(3000))")
        throw XCTSkip("onnxruntime failed")
    }
    let out = try SafeTensors.read(outURL)
    return (0..<feeds.count).map { k in
        var r: [String: SafeTensors.Entry] = [:]
        for (key, e) in out where key.hasPrefix("run\(k)/") { r[String(key.dropFirst("run\(k)/".count))] = e }
        return r
    }
}

/// The largest |a - b| (infinity for a NaN or a count mismatch).
func maxError(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.map { $0.isNaN ? .infinity : $0 }.max() ?? 0
}

/// Token ids [B, T] with padding (0) on the right: row r has length lengths[r]; ids in 1..<vocabulary.
func paddedTokens(lengths: [Int], steps: Int, vocabulary: Int, seed: UInt64) -> [Double] {
    var g = SeededGenerator(seed: seed)
    return lengths.flatMap { len in (0..<steps).map { $0 < len ? Double(Int.random(in: 1..<vocabulary, using: &g)) : 0 } }
}

/// A model of the same architecture as `model`, built for samples of `inputShape`, with `model`'s weights
/// (Sequential's input shape includes the sequence length, so another length needs another instance).
func rebuilt(_ model: Sequential, inputShape: [Int]) throws -> Sequential {
    let copy = Sequential(try Sequential.makeLayers(model.config.layers, device: model.device), device: model.device, seed: model.seed)
    try copy.build(inputShape: inputShape)
    for (p, q) in zip(model.namedParameters, copy.namedParameters) {
        XCTAssertEqual(p.name, q.name)
        try q.tensor.assign(try p.tensor.toArray())
    }
    return copy
}
