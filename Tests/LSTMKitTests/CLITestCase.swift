import Foundation
import XCTest
@testable import LSTMCLI
@testable import LSTMKit

/// The scaffolding of the `lstm` command-line tests (CLITests, RunCheckpointTests, ONNXCLITests): a fresh temporary
/// directory per test, commands run in-process through `LSTMTool.run` (the binary's entry point), and helpers that
/// read a run directory's checkpoint generation.
class CLITestCase: XCTestCase {
    var root: URL!
    /// The flags that keep a test run small and quiet on the CPU.
    let cpu = ["--device", "cpu", "--verbose", "0"]

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("lstm-\(type(of: self))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        CheckpointStore.afterStep = nil
        try? FileManager.default.removeItem(at: root)
    }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// Runs `lstm ARGS` in-process; returns the exit status and the lines written to stderr.
    func lstm(_ args: [String]) -> (code: Int32, errors: [String]) {
        var errors: [String] = []
        let code = LSTMTool.run(args, errorOutput: { errors.append($0) })
        return (code, errors)
    }

    /// Asserts a one-line `error: ...` containing `fragment`, with exit status 1.
    func expectFailure(_ args: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let (code, errors) = lstm(args)
        XCTAssertEqual(code, 1, "\(args): exit status", file: file, line: line)
        XCTAssertEqual(errors.count, 1, "\(args): \(errors)", file: file, line: line)
        let message = errors.first ?? ""
        XCTAssertTrue(message.hasPrefix("error: "), message, file: file, line: line)
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        XCTAssertTrue(message.contains(fragment), "'\(message)' should contain '\(fragment)'", file: file, line: line)
    }

    func expectSuccess(_ args: [String], file: StaticString = #filePath, line: UInt = #line) {
        let (code, errors) = lstm(args)
        XCTAssertEqual(code, 0, "\(args): \(errors)", file: file, line: line)
    }

    /// Every file under a directory (recursively, by relative path) with its contents (to check that nothing was overwritten).
    func snapshot(_ dir: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for name in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDirectory)
            result[name] = isDirectory.boolValue ? Data() : FileManager.default.contents(atPath: dir + "/" + name)
        }
        return result
    }

    /// The current checkpoint generation of a run directory, as its `checkpoint` pointer names it.
    func state(_ out: String) -> String {
        let name = (try? String(contentsOfFile: out + "/checkpoint", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        return out + "/" + name
    }

    /// Rewrites a generation's manifest to match its files (after a test edited one on purpose, so that the edit
    /// reaches the range checks instead of failing the checksum).
    func reseal(_ generation: String) throws {
        let url = URL(fileURLWithPath: generation)
        var manifest = try JSONDecoder().decode(CheckpointStore.Manifest.self, from: Data(contentsOf: url.appendingPathComponent("manifest.json")))
        manifest.files = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: generation) where name != "manifest.json" {
            let data = try Data(contentsOf: url.appendingPathComponent(name))
            manifest.files[name] = .init(size: data.count, crc32: CRC32.checksum(data))
        }
        try JSONEncoder().encode(manifest).write(to: url.appendingPathComponent("manifest.json"))
    }

    /// A sine wave with a slow trend: `rows` rows "t,value" in series.csv.
    func seriesCSV(rows: Int) throws -> String {
        let lines = (0..<rows).map { i in "\(1900 + i),\(String(format: "%.5f", sin(Double(i) * 0.5) + Double(i) * 0.01))" }
        return try write("series.csv", "t,value\n" + lines.joined(separator: "\n") + "\n")
    }
}
