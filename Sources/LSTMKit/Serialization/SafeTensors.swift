import Foundation

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw little-endian data.
/// Only F32 and F64 tensors are read or written (what PyTorch's LSTM state dicts hold).
///
/// Reading follows the format's rules strictly, so a file from a stranger gives a typed error, never a trap:
/// - the header length is at most 100,000,000 bytes (the Rust crate's cap) and fits in the file;
/// - the header is a JSON object (UTF-8, starting with `{`) with no duplicate names, at any level;
/// - each tensor has exactly `dtype` (a safetensors dtype), `shape` (non-negative integers) and
///   `data_offsets` [begin, end] (integers, begin <= end); its element and byte counts are computed with
///   overflow checks and the byte count must equal end - begin;
/// - sorted by offset, the tensors cover the data section exactly: the first starts at 0, each starts where the
///   previous one ends (no hole, no overlap) and the last ends at the end of the file;
/// - `__metadata__`, when present, maps strings to strings.
/// Checks run in a fixed order (the header, then each tensor by name, then the offsets by position), so the
/// same file always gives the same error. Every error is `LSTMKitError.stateDict` naming the tensor (or
/// `<header>`) and the file, or `.io` when the file cannot be read.
public enum SafeTensors {
    /// The largest header accepted, in bytes (as the Rust `safetensors` crate).
    public static let maxHeaderLength = 100_000_000

    /// Bytes per element of each safetensors dtype.
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
    ]

    /// One tensor as stored: dtype ("F32" or "F64"), shape and values widened to Double.
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        public let values: [Double]
        public init(dtype: String = "F32", shape: [Int], values: [Double]) {
            self.dtype = dtype; self.shape = shape; self.values = values
        }
    }

    /// One tensor of a validated header.
    struct TensorInfo {
        let name: String
        let dtype: String
        let shape: [Int]
        let count: Int
        let begin: Int
        let end: Int
    }

    /// A validated header: the tensors sorted by offset, the metadata, and where the data section starts.
    struct Header {
        let tensors: [TensorInfo]
        let metadata: [String: String]
        let dataStart: Int
    }

    /// Parses a safetensors file. Errors name the tensor (or the header), the file and what is wrong.
    public static func read(_ url: URL) throws -> [String: Entry] {
        try parse(try contents(of: url), path: url.path)
    }

    /// The `__metadata__` strings of a safetensors file (empty when it has none). The whole header is
    /// validated, as by `read`.
    public static func metadata(_ url: URL) throws -> [String: String] {
        let data = try contents(of: url)
        return try data.withUnsafeBytes { try parseHeader($0, path: url.path).metadata }
    }

    private static func contents(of url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw LSTMKitError.io(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    static func parse(_ data: Data, path: String) throws -> [String: Entry] {
        try data.withUnsafeBytes { raw in
            let header = try parseHeader(raw, path: path)
            // Only F32 and F64 are read; checked by name, so the error does not depend on the layout.
            if let other = header.tensors.filter({ $0.dtype != "F32" && $0.dtype != "F64" }).min(by: { $0.name < $1.name }) {
                throw LSTMKitError.stateDict(tensor: other.name, reason: "dtype \(other.dtype) is not supported (expected F32 or F64) in \(path)")
            }
            var result: [String: Entry] = [:]
            result.reserveCapacity(header.tensors.count)
            for t in header.tensors {
                let start = header.dataStart + t.begin, n = t.count
                let values: [Double] = t.dtype == "F32"
                    ? (0..<n).map { Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self)))) }
                    : (0..<n).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * $0, as: UInt64.self))) }
                result[t.name] = Entry(dtype: t.dtype, shape: t.shape, values: values)
            }
            return result
        }
    }

    /// Validates the header of a whole safetensors file (see the type's documentation for the rules).
    static func parseHeader(_ raw: UnsafeRawBufferPointer, path: String) throws -> Header {
        func headerError(_ reason: String) -> LSTMKitError { .stateDict(tensor: "<header>", reason: "\(reason) in \(path)") }
        guard raw.count >= 8 else { throw headerError("\(raw.count) bytes are too few for a safetensors file (an 8-byte header length comes first)") }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(raw[$1]) << (8 * UInt64($1)) }
        guard length <= UInt64(maxHeaderLength) else { throw headerError("header length \(length) exceeds the \(maxHeaderLength)-byte limit") }
        let headerLength = Int(length)
        guard headerLength <= raw.count - 8 else {
            throw headerError("header length \(headerLength) runs past the end of the \(raw.count)-byte file")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: raw[8..<(8 + headerLength)])
        guard headerBytes.first == UInt8(ascii: "{") else { throw headerError("the header does not start with '{'") }
        let json: StrictJSON.Value
        do { json = try StrictJSON.parse(headerBytes) } catch {
            throw headerError("the header is not valid JSON (\(error.reason) at header byte \(error.offset))")
        }
        guard case .object(let members) = json else { throw headerError("the header is not a JSON object") }

        // Names: none twice (compared as Swift strings, so canonically equivalent spellings count as the same).
        var seen = Set<String>()
        var metadata: [String: String] = [:]
        var entries: [(name: String, fields: [StrictJSON.Member])] = []
        for member in members {
            let name = member.key, value = member.value
            guard seen.insert(name).inserted else {
                throw LSTMKitError.stateDict(tensor: name, reason: "appears more than once in the header of \(path)")
            }
            if name == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw LSTMKitError.stateDict(tensor: name, reason: "is \(value.kind), not an object of strings, in \(path)")
                }
                for pair in pairs {
                    let key = pair.key, v = pair.value
                    guard case .string(let s) = v else {
                        throw LSTMKitError.stateDict(tensor: name, reason: "key \"\(key)\" holds \(v.kind), not a string, in \(path)")
                    }
                    guard metadata.updateValue(s, forKey: key) == nil else {
                        throw LSTMKitError.stateDict(tensor: name, reason: "key \"\(key)\" appears more than once in \(path)")
                    }
                }
                continue
            }
            guard !name.isEmpty else { throw headerError("a tensor has an empty name") }
            guard case .object(let fields) = value else {
                throw LSTMKitError.stateDict(tensor: name, reason: "is \(value.kind), not an object with dtype, shape and data_offsets, in \(path)")
            }
            entries.append((name, fields))
        }

        // Each tensor on its own, by name.
        entries.sort { $0.name < $1.name }
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(entries.count)
        for (name, fields) in entries {
            func fail(_ reason: String) -> LSTMKitError { .stateDict(tensor: name, reason: "\(reason) in \(path)") }
            var dtypeValue: StrictJSON.Value?, shapeValue: StrictJSON.Value?, offsetsValue: StrictJSON.Value?
            for field in fields {
                let value = field.value
                switch field.key {
                case "dtype": guard dtypeValue == nil else { throw fail("has two dtype fields") }; dtypeValue = value
                case "shape": guard shapeValue == nil else { throw fail("has two shape fields") }; shapeValue = value
                case "data_offsets": guard offsetsValue == nil else { throw fail("has two data_offsets fields") }; offsetsValue = value
                default: throw fail("has an unknown field \"\(field.key)\" (expected dtype, shape and data_offsets)")
                }
            }
            guard let dtypeValue else { throw fail("has no dtype") }
            guard case .string(let dtype) = dtypeValue else { throw fail("dtype is \(dtypeValue.kind), not a string") }
            guard let size = dtypeSizes[dtype] else { throw fail("dtype \"\(dtype)\" is not a safetensors dtype") }
            guard let shapeValue else { throw fail("has no shape") }
            guard case .array(let dims) = shapeValue else { throw fail("shape is \(shapeValue.kind), not an array") }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            for (i, d) in dims.enumerated() {
                guard let v = d.nonNegativeInt else { throw fail("shape dimension \(i) is \(d.kind), not a non-negative integer that fits in Int") }
                shape.append(v)
            }
            guard let offsetsValue else { throw fail("has no data_offsets") }
            guard case .array(let pair) = offsetsValue, pair.count == 2 else { throw fail("data_offsets is \(offsetsValue.kind), not [begin, end]") }
            guard let begin = pair[0].nonNegativeInt, let end = pair[1].nonNegativeInt else {
                throw fail("data_offsets [\(pair[0].kind), \(pair[1].kind)] are not two non-negative integers that fit in Int")
            }
            guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] end before they begin") }
            guard let count = Memory.product(shape) else { throw fail("shape \(shape) has more elements than Int can count") }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("shape \(shape) of \(dtype) needs more bytes than Int can count") }
            guard bytes == end - begin else {
                throw fail("data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shape) of \(dtype) needs \(bytes)")
            }
            tensors.append(TensorInfo(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end))
        }

        // Together, by position: the tensors cover the data section exactly once.
        tensors.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        let dataLength = raw.count - 8 - headerLength
        var position = 0
        for t in tensors {
            guard t.begin == position else {
                throw LSTMKitError.stateDict(tensor: t.name, reason: t.begin < position
                    ? "data_offsets [\(t.begin), \(t.end)] overlap the tensor before it, which ends at \(position), in \(path)"
                    : "data_offsets [\(t.begin), \(t.end)] leave a hole after byte \(position) of the data in \(path)")
            }
            position = t.end
        }
        guard position == dataLength else {
            if position > dataLength, let last = tensors.last {
                throw LSTMKitError.stateDict(tensor: last.name, reason: "data_offsets [\(last.begin), \(last.end)] run past the end of the data (\(dataLength) bytes) in \(path)")
            }
            throw headerError("the tensors cover \(position) bytes, but the file holds \(dataLength) bytes of data after the header")
        }
        return Header(tensors: tensors, metadata: metadata, dataStart: 8 + headerLength)
    }

    /// Throws when `values` hold NaN or infinity, or (for a Float32 device) a value that Float32 cannot hold.
    static func checkFinite(_ values: [Double], tensor: String, precision: Precision, suffix: String) throws {
        let bad = precision == .float64 ? values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
                                        : values.reduce(0) { $0 + (Float($1).isFinite ? 0 : 1) }
        guard bad == 0 else {
            let what = precision == .float64 ? "non-finite values (NaN or infinity)" : "non-finite values (NaN, infinity or beyond Float32's range)"
            throw LSTMKitError.stateDict(tensor: tensor, reason: "holds \(bad) \(what)\(suffix); pass allowNonFinite: true to load it anyway")
        }
    }

    /// Writes tensors (in the given order) atomically: to a temporary file, then renamed over `url`,
    /// so a crash never leaves a half-written file.
    public static func write(_ entries: [(name: String, entry: Entry)], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        var body = Data()
        for (name, e) in entries {
            let start = body.count
            switch e.dtype {
            case "F32": for v in e.values { withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            case "F64": for v in e.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            default: throw LSTMKitError.stateDict(tensor: name, reason: "dtype \(e.dtype) cannot be written (use F32 or F64)")
            }
            header[name] = ["dtype": e.dtype, "shape": e.shape, "data_offsets": [start, body.count]] as [String: Any]
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(body)
        do { try file.write(to: url, options: .atomic) } catch {
            throw LSTMKitError.io(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
