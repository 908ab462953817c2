import Foundation
import XCTest
@testable import LSTMKit

/// `DataArray` loaders against files numpy and safetensors wrote (Tests/Fixtures/make_data_fixtures.py): each
/// array is a formula of the row-major index k that is recomputed here, so the values are checked exactly.
final class DataLoaderTests: XCTestCase {
    let data = fixturesDirectory.appendingPathComponent("data")
    func url(_ name: String) -> URL { data.appendingPathComponent(name) }

    /// The fixture formula (make_data_fixtures.py's `formula`).
    func formula(_ n: Int, _ kind: Character) -> [Float] {
        (0..<n).map { k in
            switch kind {
            case "f": return Float(k % 23) * 0.5 - 4
            case "i": return Float(k % 23 - 4)
            case "u": return Float(k % 23)
            default: return k % 3 == 0 ? 1 : 0
            }
        }
    }

    func testNPYEveryDtypeByteOrderAndLayout() throws {
        let files: [(String, Character)] = [("le_f4", "f"), ("le_f8", "f"), ("be_f4", "f"), ("be_f8", "f"), ("le_i1", "i"), ("le_i2", "i"),
                                            ("le_i4", "i"), ("le_i8", "i"), ("be_i4", "i"), ("le_u1", "u"), ("le_u2", "u"), ("le_u4", "u"),
                                            ("le_u8", "u"), ("b1", "b"), ("fortran_f4", "f"), ("v2_f4", "f")]
        for (name, kind) in files {
            let a = try DataArray(npy: url(name + ".npy"))
            XCTAssertEqual(a.shape, [2, 3, 4], name)
            XCTAssertEqual(a.values, formula(24, kind), name)  // exact: every value is a small multiple of 0.5
        }
    }

    func testNPZStoredAndDeflated() throws {
        for name in ["stored.npz", "deflated.npz"] {
            let arrays = try DataArray.npz(url(name))
            XCTAssertEqual(arrays.keys.sorted(), ["x", "y"], name)
            XCTAssertEqual(arrays["x"]?.shape, [5, 3])
            XCTAssertEqual(arrays["x"]?.values, formula(15, "f"), name)
            XCTAssertEqual(arrays["y"]?.values, formula(5, "i"), name)
        }
        let big = try DataArray(npz: url("deflated_big.npz"), name: "big")
        XCTAssertEqual(big.shape, [300, 40])
        XCTAssertEqual(big.values, formula(12_000, "f"))
        // Random floats: the deflated copy is bit for bit the plain .npy.
        let plain = try DataArray(npy: url("random.npy")), packed = try DataArray(npz: url("random.npz"), name: "r")
        XCTAssertEqual(packed, plain)
        XCTAssertEqual(plain.shape, [64, 33])
        XCTAssertThrowsError(try DataArray(npz: url("stored.npz"), name: "z")) {
            XCTAssertEqual($0 as? DataLoadError, .notFound(path: url("stored.npz").path, name: "z", available: ["x", "y"]))
        }
    }

    func testCSVNamedColumnsAndErrors() throws {
        let a = try DataArray(csv: url("table.csv"), columns: ["temp", "wind, gusts"])
        XCTAssertEqual(a.shape, [6, 2])
        var expected: [Float] = []
        for i in 0..<6 { expected.append(Float(i % 23) * 0.5 - 4); expected.append(Float(i * 2)) }
        XCTAssertEqual(a.values, expected)
        XCTAssertThrowsError(try DataArray(csv: url("table.csv"))) { error in   // the date column is not numeric
            XCTAssertEqual(error as? DataLoadError, .invalidCSV(path: url("table.csv").path, line: 2, column: "date",
                                                               reason: "'2020-01-01' is not a finite number (in Float32's range)"))
        }
        XCTAssertThrowsError(try DataArray(csvText: "a,b\n1,2\n3\n", path: "t.csv")) {
            XCTAssertEqual($0 as? DataLoadError, .invalidCSV(path: "t.csv", line: 3, column: "b", reason: "the line has 1 fields but the header has 2"))
        }
        XCTAssertThrowsError(try DataArray(csvText: "a,b\n1,\n", path: "t.csv")) {
            XCTAssertEqual($0 as? DataLoadError, .invalidCSV(path: "t.csv", line: 2, column: "b", reason: "the value is empty"))
        }
        XCTAssertThrowsError(try DataArray(csvText: "a,b\n\n1,1e40\n", path: "t.csv")) {   // blank line 2 skipped; 1e40 overflows Float
            XCTAssertEqual($0 as? DataLoadError, .invalidCSV(path: "t.csv", line: 3, column: "b", reason: "'1e40' is not a finite number (in Float32's range)"))
        }
        XCTAssertThrowsError(try DataArray(csvText: "a,a\n1,2\n", path: "t.csv")) {
            XCTAssertEqual($0 as? DataLoadError, .invalidCSV(path: "t.csv", line: 1, column: "a", reason: "the name appears twice in the header"))
        }
        XCTAssertThrowsError(try DataArray(csvText: "a,b\n1,2\n", columns: ["c"], path: "t.csv")) {
            XCTAssertEqual($0 as? DataLoadError, .notFound(path: "t.csv", name: "c", available: ["a", "b"]))
        }
    }

    func testSafeTensors() throws {
        let file = url("arrays.safetensors")
        guard FileManager.default.fileExists(atPath: file.path) else { throw XCTSkip("*** arrays.safetensors missing: run make_data_fixtures.py with safetensors ***") }
        let all = try DataArray.safetensors(file)
        XCTAssertEqual(all["x"]?.shape, [5, 3])
        XCTAssertEqual(all["x"]?.values, formula(15, "f"))
        XCTAssertEqual(try DataArray(safetensors: file, name: "w").values, formula(4, "f"))
    }

    func testPadSequencesAsKeras() throws {
        // Keras' pad_sequences([[1, 2, 3], [4], [5, 6, 7, 8]], maxlen=3) and its padding/truncating variants, by hand.
        let s: [[Float]] = [[1, 2, 3], [4], [5, 6, 7, 8]]
        XCTAssertEqual(try padSequences(s, maxlen: 3).values, [1, 2, 3, 0, 0, 4, 6, 7, 8])
        XCTAssertEqual(try padSequences(s, maxlen: 3, padding: .post, truncating: .post).values, [1, 2, 3, 4, 0, 0, 5, 6, 7])
        let longest = try padSequences(s, padding: .post, value: -1)
        XCTAssertEqual(longest.shape, [3, 4])
        XCTAssertEqual(longest.values, [1, 2, 3, -1, 4, -1, -1, -1, 5, 6, 7, 8])
        XCTAssertThrowsError(try padSequences(s, maxlen: -1))
    }

    // MARK: Hostile files

    /// A .npy file from a header text and a payload (format 1.0).
    func npy(_ header: String, _ payload: [UInt8], version: UInt8 = 1) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
        if version == 1 { out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] } else { out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8), 0, 0] }
        return out + h + payload
    }

    func npyError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> (field: String, reason: String) {
        do {
            _ = try bytes.withUnsafeBytes { try DataArray.parseNPY($0, path: "h.npy", allowNonFinite: false) }
            XCTFail("no error", file: file, line: line)
        } catch let DataLoadError.invalidFile(_, field, reason) {
            return (field, reason)
        } catch {
            XCTFail("not DataLoadError.invalidFile: \(error)", file: file, line: line)
        }
        return ("", "")
    }

    func testHostileNPYHeaders() {
        let four: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]   // 1.0, 2.0
        XCTAssertEqual(try [UInt8](npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", four))
            .withUnsafeBytes { try DataArray.parseNPY($0, path: "ok", allowNonFinite: false).values }, [1, 2])
        func header(_ descr: String = "'<f4'", fortran: String = "False", shape: String = "(2,)") -> String {
            "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }\n"
        }
        XCTAssertEqual(npyError(npy(header(shape: "(99999999999999999999,)"), four)).field, "shape")   // does not fit in Int
        XCTAssertEqual(npyError(npy(header(shape: "(4294967296, 4294967296)"), four)).field, "shape")   // product overflows
        XCTAssertEqual(npyError(npy(header(shape: "(3,)"), four)).field, "<data>")                      // too few bytes
        XCTAssertEqual(npyError(npy(header(shape: "(1,)"), four)).field, "<data>")                      // trailing bytes
        XCTAssertEqual(npyError(npy(header(shape: "(-2,)"), four)).field, "shape")
        XCTAssertEqual(npyError(npy(header(shape: "()"), [0, 0, 128, 63])).field, "shape")              // 0-d
        XCTAssertEqual(npyError(npy(header("'<c8'"), four)).field, "descr")
        XCTAssertEqual(npyError(npy(header("'O'"), four)).field, "descr")                               // pickled objects
        XCTAssertEqual(npyError(npy(header(fortran: "1"), four)).field, "<header>")
        XCTAssertEqual(npyError(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", four)).field, "descr")
        XCTAssertEqual(npyError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", four)).field, "<header>")
        XCTAssertEqual(npyError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 'y'}", four)).field, "extra")
        XCTAssertEqual(npyError(npy("{'descr': '<f4', 'shape': (2,)}", four)).field, "fortran_order")
        XCTAssertEqual(npyError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", four)).field, "<header>")
        XCTAssertEqual(npyError(npy(header(), four, version: 4)).field, "<version>")
        XCTAssertEqual(npyError(Array(npy(header(), four).prefix(9))).field, "<header length>")
        var long = npy(header(), four)
        long[8] = 0xFF; long[9] = 0xFF   // a 65535-byte header: more than the 10,000 accepted
        XCTAssertEqual(npyError(long).field, "<header>")
        // Values: NaN refused unless allowed; int64 beyond 2^24 refused.
        let nan: [UInt8] = [0, 0, 192, 127, 0, 0, 0, 64]
        XCTAssertEqual(npyError(npy(header(), nan)).field, "<data>")
        XCTAssertTrue(try [UInt8](npy(header(), nan)).withUnsafeBytes { try DataArray.parseNPY($0, path: "n", allowNonFinite: true).values[0].isNaN })
        let big = withUnsafeBytes(of: Int64(1 << 25).littleEndian) { Array($0) }
        XCTAssertEqual(npyError(npy(header("'<i8'", shape: "(1,)"), big)).reason, "element 0 (row-major) is 33554432, beyond ±2^24: Float32 cannot hold it exactly")
    }

    /// Every truncation and many byte changes of valid files give a `DataLoadError` (or load), never a trap or another error.
    func testMutatedFilesGiveTypedErrors() throws {
        var generator = SeededGenerator(seed: 5)
        var outcomes: [String: Int] = [:]
        for name in ["le_f4.npy", "fortran_f4.npy", "stored.npz", "deflated.npz", "random.npz"] {
            let original = [UInt8](try Data(contentsOf: url(name)))
            var cases: [[UInt8]] = (0..<original.count).map { Array(original.prefix($0)) }
            for _ in 0..<300 {
                var m = original
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let i = Int.random(in: 0..<m.count, using: &generator)
                    m[i] = [0, 0xFF, 0x7F, 0x80, UInt8.random(in: 0...255, using: &generator)][Int.random(in: 0..<5, using: &generator)]
                }
                cases.append(m)
            }
            for bytes in cases {
                do {
                    _ = try bytes.withUnsafeBytes { raw -> Int in
                        if name.hasSuffix(".npy") { return try DataArray.parseNPY(raw, path: name, allowNonFinite: false).count }
                        let archive = try ZipArchive(raw, path: name)
                        for e in archive.entries { _ = try archive.contents(of: e, in: raw) }
                        return archive.entries.count
                    }
                    outcomes["ok", default: 0] += 1
                } catch let e as DataLoadError {
                    if case .invalidFile(_, let field, _) = e { XCTAssertFalse(field.isEmpty) }
                    outcomes["DataLoadError", default: 0] += 1
                } catch {
                    XCTFail("\(name): not a DataLoadError: \(error)")
                }
            }
        }
        XCTAssertGreaterThan(outcomes["DataLoadError", default: 0], 1000, "\(outcomes)")
    }

    func testZipBombAndOverlapsAreRefused() throws {
        // The stored archive with entry y's local header offset pointed at entry x: the two entries overlap.
        var bytes = [UInt8](try Data(contentsOf: url("stored.npz")))
        // Find the second central directory header and zero its local header offset.
        var headers: [Int] = []
        for i in 0..<(bytes.count - 4) where bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x01 && bytes[i + 3] == 0x02 { headers.append(i) }
        XCTAssertEqual(headers.count, 2)
        for k in 0..<4 { bytes[headers[1] + 42 + k] = 0 }
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try ZipArchive($0, path: "o.npz") }) {
            guard case DataLoadError.invalidFile(_, let field, let reason)? = $0 as? DataLoadError else { return XCTFail("\($0)") }
            XCTAssertTrue(field.hasPrefix("entry '") && reason.hasPrefix("overlaps"), "\(field): \(reason)")
        }
        // A deflate stream that claims a small size but expands past it stops at the claimed size.
        let deflated = [UInt8](try Data(contentsOf: url("deflated_big.npz")))
        let archive = try deflated.withUnsafeBytes { try ZipArchive($0, path: "b.npz") }
        let entry = archive.entries[0]
        let small = ZipArchive.Entry(name: entry.name, method: 8, crc32: entry.crc32, compressedSize: entry.compressedSize, size: 100,
                                     localHeaderOffset: entry.localHeaderOffset)
        XCTAssertThrowsError(try deflated.withUnsafeBytes { try archive.contents(of: small, in: $0) }) {
            XCTAssertTrue("\($0)".contains("more than the 100 bytes"), "\($0)")
        }
    }
}
