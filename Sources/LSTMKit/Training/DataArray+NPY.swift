import Foundation

/// NumPy files into `DataArray`s: `.npy` (format versions 1, 2 and 3) and `.npz` archives (`np.savez`, stored, and
/// `np.savez_compressed`, deflate).
///
///     let x = try DataArray(npy: URL(fileURLWithPath: "x.npy"))          // any shape [N, ...]
///     let arrays = try DataArray.npz(URL(fileURLWithPath: "data.npz"))   // ["x": ..., "y": ...] (names without ".npy")
///
/// dtypes: float32/float64 (`<f4`, `<f8`, big-endian too), signed and unsigned integers of 1, 2, 4 and 8 bytes, and
/// bool; C or Fortran order. Values become Float32. The header is parsed strictly (a Python dict literal with
/// exactly `descr`, `fortran_order` and `shape`, at most `maxNPYHeaderLength` bytes), the element and byte counts
/// are overflow-checked and must match the data exactly, and every error is a `DataLoadError` naming the file and
/// the field. Refused unless `allowNonFinite`: NaN, infinity and float64 values beyond Float32's range. Always
/// refused: integers beyond ±2^24, which Float32 cannot hold exactly (token ids must stay exact), and 0-d arrays
/// (a `DataArray` has the samples first).
extension DataArray {
    /// The largest `.npy` header accepted, in bytes (numpy's own default `max_header_size`).
    public static let maxNPYHeaderLength = 10_000

    /// Loads a `.npy` file.
    public init(npy url: URL, allowNonFinite: Bool = false) throws {
        let data = try Self.readData(url)
        self = try data.withUnsafeBytes { try Self.parseNPY($0, path: url.path, allowNonFinite: allowNonFinite) }
    }

    /// Every array of a `.npz` file, by name (the entry name without its `.npy` suffix, as `np.load(...).files`).
    public static func npz(_ url: URL, allowNonFinite: Bool = false) throws -> [String: DataArray] {
        let data = try readData(url)
        return try data.withUnsafeBytes { raw in
            let archive = try ZipArchive(raw, path: url.path)
            var result: [String: DataArray] = [:]
            for entry in archive.entries {
                guard entry.name.hasSuffix(".npy") else {
                    throw DataLoadError.invalidFile(path: url.path, field: "entry '\(entry.name)'", reason: "is not a .npy array (an .npz holds only NAME.npy entries)")
                }
                let bytes = try archive.contents(of: entry, in: raw)
                let name = String(entry.name.dropLast(4))
                result[name] = try bytes.withUnsafeBytes {
                    try parseNPY($0, path: "\(url.path)[\(entry.name)]", allowNonFinite: allowNonFinite)
                }
            }
            return result
        }
    }

    /// One array of a `.npz` file; `DataLoadError.notFound` lists the names when there is no `name`.
    public init(npz url: URL, name: String, allowNonFinite: Bool = false) throws {
        let all = try Self.npz(url, allowNonFinite: allowNonFinite)
        guard let a = all[name] else { throw DataLoadError.notFound(path: url.path, name: name, available: all.keys.sorted()) }
        self = a
    }

    static func readData(_ url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DataLoadError.unreadable(path: url.path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw DataLoadError.unreadable(path: url.path, reason: "is a directory") }
        do { return try Data(contentsOf: url) } catch {
            throw DataLoadError.unreadable(path: url.path, reason: error.localizedDescription)
        }
    }

    /// The array of one `.npy` file's bytes.
    static func parseNPY(_ raw: UnsafeRawBufferPointer, path: String, allowNonFinite: Bool) throws -> DataArray {
        func fail(_ field: String, _ reason: String) -> DataLoadError { .invalidFile(path: path, field: field, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard raw.count >= 8, Array(raw[0..<6]) == magic else { throw fail("<magic>", "not a .npy file (it does not start with \\x93NUMPY)") }
        let major = Int(raw[6])
        guard (1...3).contains(major) else { throw fail("<version>", "format version \(major).\(raw[7]) is not 1, 2 or 3") }
        let lengthBytes = major == 1 ? 2 : 4
        guard raw.count >= 8 + lengthBytes else { throw fail("<header length>", "the file ends before the header length") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(raw[8 + $1]) << (8 * $1) }
        guard headerLength <= maxNPYHeaderLength else {
            throw fail("<header>", "\(headerLength) bytes are more than the \(maxNPYHeaderLength) accepted")
        }
        let headerStart = 8 + lengthBytes, dataStart = headerStart + headerLength
        guard dataStart <= raw.count else { throw fail("<header>", "the header of \(headerLength) bytes runs past the end of the file") }
        let headerBytes = Array(raw[headerStart..<dataStart])
        guard major == 3 || headerBytes.allSatisfy({ $0 < 0x80 }) else { throw fail("<header>", "is not ASCII (format version \(major))") }
        guard let header = String(bytes: headerBytes, encoding: .utf8) else { throw fail("<header>", "is not UTF-8") }
        let (descr, fortran, shape) = try NPYHeader.parse(header, fail: fail)

        // dtype: byte order, kind, size.
        var chars = Array(descr)
        var bigEndian = false
        if let first = chars.first, "<>|=".contains(first) { bigEndian = first == ">"; chars.removeFirst() }
        guard chars.count == 2, let size = Int(String(chars[1])), let kind = Optional(chars[0]),
              (kind == "f" && (size == 4 || size == 8)) || ((kind == "i" || kind == "u") && [1, 2, 4, 8].contains(size)) || (kind == "b" && size == 1) else {
            throw fail("descr", "'\(descr)' is not a supported dtype (float32/64, int/uint 8-64, bool)")
        }
        guard !shape.isEmpty else { throw fail("shape", "() is a 0-d array: a DataArray needs the samples first (save at least a 1-d array)") }
        guard let count = Memory.product(shape) else { throw fail("shape", "\(shape) has more elements than Int can count") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow else { throw fail("shape", "\(shape) of \(descr) needs more bytes than Int can count") }
        guard raw.count - dataStart == bytes else {
            throw fail("<data>", "shape \(shape) of \(descr) needs \(bytes) bytes, the file holds \(raw.count - dataStart) after the header")
        }

        func load(_ k: Int) -> UInt64 {
            var v: UInt64 = 0
            let o = dataStart + k * size
            for b in 0..<size { v |= UInt64(raw[o + b]) << (8 * UInt64(bigEndian ? size - 1 - b : b)) }
            return v
        }
        func value(_ k: Int) -> Double {
            let bits = load(k)
            switch (kind, size) {
            case ("f", 4): return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
            case ("f", _): return Double(bitPattern: bits)
            case ("u", _), ("b", _): return Double(bits)
            default:  // signed: sign-extend
                let shift = UInt64(64 - 8 * size)
                return Double(Int64(bitPattern: bits << shift) >> Int64(shift))
            }
        }
        // Fortran order: element (i0, ..., in-1) is at sum i_k * prod(shape[..<k]).
        var fortranStrides: [Int] = []
        if fortran { var s = 1; for d in shape { fortranStrides.append(s); s &*= d } }
        var index = [Int](repeating: 0, count: shape.count)
        var values: [Float] = []
        values.reserveCapacity(count)
        for k in 0..<count {
            var source = k
            if fortran {
                source = zip(index, fortranStrides).reduce(0) { $0 + $1.0 * $1.1 }
                var a = shape.count - 1
                while a >= 0 { index[a] += 1; if index[a] < shape[a] { break }; index[a] = 0; a -= 1 }
            }
            let v = value(source)
            if kind == "f" {
                let f = Float(v)
                if !allowNonFinite && !f.isFinite {
                    throw fail("<data>", "element \(k) (row-major) is \(v)\(v.isFinite ? ", beyond Float32's range" : ""): pass allowNonFinite: true to load it anyway")
                }
                values.append(f)
            } else {
                guard abs(v) <= 16_777_216 else {
                    throw fail("<data>", "element \(k) (row-major) is \(Int64(exactly: v).map(String.init) ?? String(v)), beyond ±2^24: Float32 cannot hold it exactly")
                }
                values.append(Float(v))
            }
        }
        return try DataArray(shape: shape, values: values)
    }
}

/// The header of a `.npy` file: a Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
enum NPYHeader {
    enum Value { case string(String), bool(Bool), tuple([Int]) }

    static func parse(_ text: String, fail: (String, String) -> DataLoadError) throws -> (String, Bool, [Int]) {
        let s = Array(text.unicodeScalars)
        var i = 0
        func skip() { while i < s.count, s[i] == " " || s[i] == "\n" || s[i] == "\t" || s[i] == "\r" { i += 1 } }
        func expect(_ c: Unicode.Scalar, _ what: String) throws {
            skip()
            guard i < s.count, s[i] == c else { throw fail("<header>", "expected \(what) at character \(i)") }
            i += 1
        }
        func string() throws -> String {
            skip()
            guard i < s.count, s[i] == "'" || s[i] == "\"" else { throw fail("<header>", "expected a quoted string at character \(i)") }
            let quote = s[i]
            i += 1
            var out = ""
            while i < s.count, s[i] != quote {
                guard s[i] != "\\" else { throw fail("<header>", "escapes in strings are not accepted (character \(i))") }
                out.unicodeScalars.append(s[i]); i += 1
            }
            guard i < s.count else { throw fail("<header>", "a string is never closed") }
            i += 1
            return out
        }
        func integer() throws -> Int {
            skip()
            var digits = ""
            while i < s.count, ("0"..."9").contains(s[i]) { digits.unicodeScalars.append(s[i]); i += 1 }
            guard !digits.isEmpty else { throw fail("shape", "expected a non-negative integer at character \(i)") }
            guard let v = Int(digits) else { throw fail("shape", "dimension \(digits) does not fit in Int") }
            if i < s.count, s[i] == "L" { i += 1 }  // Python 2's long suffix
            return v
        }
        func value() throws -> Value {
            skip()
            guard i < s.count else { throw fail("<header>", "ends where a value should be") }
            if s[i] == "'" || s[i] == "\"" { return .string(try string()) }
            if s[i] == "(" {
                i += 1
                var dims: [Int] = []
                skip()
                if i < s.count, s[i] == ")" { i += 1; return .tuple(dims) }
                while true {
                    dims.append(try integer())
                    skip()
                    guard i < s.count else { throw fail("shape", "the tuple is never closed") }
                    if s[i] == ")" { i += 1; return .tuple(dims) }
                    guard s[i] == "," else { throw fail("shape", "expected ',' or ')' at character \(i)") }
                    i += 1
                    skip()
                    if i < s.count, s[i] == ")" { i += 1; return .tuple(dims) }
                }
            }
            for (word, b) in [("True", true), ("False", false)] where String(String.UnicodeScalarView(s[i..<min(s.count, i + word.count)])) == word {
                i += word.count
                return .bool(b)
            }
            throw fail("<header>", "unexpected value at character \(i)")
        }

        try expect("{", "'{'")
        var entries: [String: Value] = [:]
        skip()
        if i < s.count, s[i] == "}" { i += 1 } else {
            while true {
                let key = try string()
                try expect(":", "':' after '\(key)'")
                guard entries[key] == nil else { throw fail(key, "appears twice in the header") }
                entries[key] = try value()
                skip()
                guard i < s.count else { throw fail("<header>", "the dict is never closed") }
                if s[i] == "}" { i += 1; break }
                guard s[i] == "," else { throw fail("<header>", "expected ',' or '}' at character \(i)") }
                i += 1
                skip()
                if i < s.count, s[i] == "}" { i += 1; break }
            }
        }
        skip()
        guard i == s.count else { throw fail("<header>", "text after the dict at character \(i)") }
        if let extra = entries.keys.sorted().first(where: { !["descr", "fortran_order", "shape"].contains($0) }) {
            throw fail(extra, "is not a .npy header key (descr, fortran_order, shape)")
        }
        guard case .string(let descr)? = entries["descr"] else { throw fail("descr", "missing, or not a string") }
        guard case .bool(let fortran)? = entries["fortran_order"] else { throw fail("fortran_order", "missing, or not True/False") }
        guard case .tuple(let shape)? = entries["shape"] else { throw fail("shape", "missing, or not a tuple of integers") }
        return (descr, fortran, shape)
    }
}
