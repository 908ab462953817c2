import CSmallGemm
import Foundation
import XCTest
@testable import LSTMKit

/// The settings table (Settings.swift) against the sources and the README, and its one validation path.
final class SettingsTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every LSTMKIT_ variable the sources read: quoted names in Swift and C ("LSTMKIT_X"), assignments and
    /// expansions in scripts (LSTMKIT_X=, $LSTMKIT_X, ${LSTMKIT_X), and the names read as "LSTMKIT_" + name.
    func variablesReadBySources() throws -> [String: String] {
        var found: [String: String] = [:]
        let quoted = try NSRegularExpression(pattern: #""(LSTMKIT_[A-Z0-9_]+)""#)
        let shell = try NSRegularExpression(pattern: #"(?:\$\{?|\b)(LSTMKIT_[A-Z0-9_]+)(?:=|\}|\b)"#)
        for folder in ["Sources", "Tests", "Benchmarks", "Examples", "Fuzz", "scripts", ".ci"] {
            guard let walker = FileManager.default.enumerator(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker {
                let ext = url.pathExtension
                guard ["swift", "c", "h", "sh", "py", ""].contains(ext), url.lastPathComponent != "SettingsTests.swift",
                      let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
                let range = NSRange(text.startIndex..., in: text)
                if ["swift", "c", "h"].contains(ext) {
                    for m in quoted.matches(in: text, range: range) { found[String(text[Range(m.range(at: 1), in: text)!])] = url.path }
                } else {
                    for m in shell.matches(in: text, range: range) {
                        let name = String(text[Range(m.range(at: 1), in: text)!])
                        if !name.hasSuffix("_") { found[name] = url.path }
                    }
                }
            }
        }
        for name in OpenCLTuning.overrideNames + OpenCLTuning().gpuKernelDefines.keys { found["LSTMKIT_" + name] = "OpenCLTuning" }
        return found
    }

    func testEveryVariableReadIsInTheTableAndTheREADME() throws {
        let read = try variablesReadBySources()
        let table = Set(Settings.table.map(\.name))
        XCTAssertEqual(table.count, Settings.table.count, "a name listed twice")
        XCTAssertGreaterThanOrEqual(read.count, 30, "the scan found the variables: \(read.keys.sorted())")
        for (name, file) in read.sorted(by: { $0.key < $1.key }) { XCTAssertTrue(table.contains(name), "\(name), read in \(file), is not in Settings.table") }
        for name in table.subtracting(read.keys).sorted() { XCTFail("\(name) is in Settings.table but no source reads it") }

        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "\n## Settings\n").dropFirst().first, "README has a ## Settings section")
        let rows = section.components(separatedBy: "\n## ")[0].split(separator: "\n").filter { $0.hasPrefix("| `LSTMKIT_") }
        let documented = rows.map { String($0.dropFirst(3).prefix { $0 != "`" }) }
        XCTAssertEqual(documented.sorted(), table.sorted(), "README's settings table lists exactly Settings.table")
        XCTAssertEqual(readme.components(separatedBy: "\n## Settings\n").count, 2, "one settings table")
        for e in Settings.table { XCTAssertFalse(e.doc.isEmpty || e.type.isEmpty || e.defaultValue.isEmpty, e.name) }
    }

    /// The C libraries read no environment: their settings come through setters (Settings.applyToC).
    func testCReadsNoEnvironment() throws {
        for folder in ["CLSTMCell", "CSmallGemm", "CMPIShim", "CBLASShim", "COpenCLShim", "CKernels"] {
            guard let walker = FileManager.default.enumerator(at: root.appendingPathComponent("Sources/" + folder), includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where ["c", "h"].contains(url.pathExtension) {
                let text = try String(contentsOf: url, encoding: .utf8)
                XCTAssertFalse(text.contains("getenv("), "\(url.path) calls getenv")
            }
        }
        let available = lstmkit_small_gemm_available()
        defer { _ = lstmkit_small_gemm_set_enabled(1) }
        XCTAssertEqual(lstmkit_small_gemm_set_enabled(0), 0)
        XCTAssertEqual(lstmkit_small_gemm_enabled(), 0)
        XCTAssertEqual(lstmkit_small_gemm_set_enabled(1), available)
        XCTAssertEqual(lstmkit_small_gemm_enabled(), available)
    }

    /// Runs `body` with stderr sent to a temporary file, and returns what was written.
    func capturingStderr(_ body: () throws -> Void) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-stderr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: url) }
        let file = open(url.path, O_WRONLY | O_TRUNC), saved = dup(STDERR_FILENO)
        dup2(file, STDERR_FILENO)
        close(file)
        defer { dup2(saved, STDERR_FILENO); close(saved) }
        try body()
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// A bad value gives the default and one warning line naming the variable, the value and the default; unset
    /// and good values warn nothing.
    func testABadValueWarnsOnceAndUsesTheDefault() throws {
        let tag = UInt32.random(in: 0...UInt32.max)  // warnings print once per process: a value not seen before
        var results: [String] = []
        let output = try capturingStderr {
            for _ in 0..<2 {
                results.append("\(Settings.int("LSTMKIT_CPU_CHUNKS", default: 4, in: 1...Int.max, environment: ["LSTMKIT_CPU_CHUNKS": "x\(tag)"]))")
                results.append("\(Settings.positiveDouble("LSTMKIT_MPI_TIMEOUT", default: 120, environment: ["LSTMKIT_MPI_TIMEOUT": "-\(tag)"]))")
                results.append("\(Settings.flag("LSTMKIT_CPU_PREFETCH", default: true, environment: ["LSTMKIT_CPU_PREFETCH": "y\(tag)"]))")
                results.append("\(Settings.choice("LSTMKIT_CPU_ISA", ["baseline", "avx2"], defaultDescription: "best", environment: ["LSTMKIT_CPU_ISA": "z\(tag)"]) as Any)")
            }
            results.append("\(Settings.int("LSTMKIT_CPU_CHUNKS", default: 4, environment: ["LSTMKIT_CPU_CHUNKS": "7"]))")
            results.append("\(Settings.int("LSTMKIT_CPU_CHUNKS", default: 4, environment: [:]))")
            results.append("\(Settings.flag("LSTMKIT_CPU_PREFETCH", default: true, environment: ["LSTMKIT_CPU_PREFETCH": "0"]))")
        }
        XCTAssertEqual(results, ["4", "120.0", "true", "nil", "4", "120.0", "true", "nil", "7", "4", "false"])
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, [
            "lstmkit: warning: LSTMKIT_CPU_CHUNKS=\"x\(tag)\" is invalid (expected an integer >= 1); using 4",
            "lstmkit: warning: LSTMKIT_MPI_TIMEOUT=\"-\(tag)\" is invalid (expected a number > 0); using 120.0",
            "lstmkit: warning: LSTMKIT_CPU_PREFETCH=\"y\(tag)\" is invalid (expected 0 or 1); using 1",
            "lstmkit: warning: LSTMKIT_CPU_ISA=\"z\(tag)\" is invalid (expected one of baseline, avx2); using best",
        ])
    }
}

/// docs/decisions: each record at most 30 lines, with its decision, evidence and commit, and listed in the index.
final class DecisionRecordTests: XCTestCase {
    func testDecisionRecordsAreShortAndComplete() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/decisions")
        let index = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        let records = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.first?.isNumber == true }.sorted()
        XCTAssertGreaterThanOrEqual(records.count, 10)
        for name in records {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count - (text.hasSuffix("\n") ? 1 : 0)
            XCTAssertLessThanOrEqual(lines, 30, name)
            for part in ["**Decision.**", "**Evidence", "**Commit"] { XCTAssertTrue(text.contains(part), "\(name) lacks \(part)") }
            XCTAssertTrue(index.contains("(\(name))"), "\(name) is not in docs/decisions/README.md")
        }
    }
}
