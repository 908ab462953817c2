import Foundation

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw little-endian data.
/// Only F32 and F64 tensors are read or written (what PyTorch's LSTM state dicts hold).
public enum SafeTensors {
    /// One tensor as stored: dtype ("F32" or "F64"), shape and values widened to Double.
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        public let values: [Double]
        public init(dtype: String = "F32", shape: [Int], values: [Double]) {
            self.dtype = dtype; self.shape = shape; self.values = values
        }
    }

    /// Parses a safetensors file. Errors name the tensor (or the header) and what is wrong.
    public static func read(_ url: URL) throws -> [String: Entry] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LSTMKitError.io(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, path: url.path)
    }

    /// The `__metadata__` strings of a safetensors file (empty when it has none).
    public static func metadata(_ url: URL) throws -> [String: String] {
        guard let data = try? Data(contentsOf: url), data.count >= 8 else {
            throw LSTMKitError.io(path: url.path, reason: "cannot read a safetensors header")
        }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(data.count - 8),
              let header = (try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(length))))) as? [String: Any] else {
            throw LSTMKitError.stateDict(tensor: "<header>", reason: "\(url.path) has no valid safetensors header")
        }
        return header["__metadata__"] as? [String: String] ?? [:]
    }

    static func parse(_ data: Data, path: String) throws -> [String: Entry] {
        guard data.count >= 8 else { throw LSTMKitError.stateDict(tensor: "<header>", reason: "\(path) is too short for a safetensors file") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw LSTMKitError.stateDict(tensor: "<header>", reason: "header length \(headerLength) exceeds the file size \(data.count)")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw LSTMKitError.stateDict(tensor: "<header>", reason: "the header of \(path) is not a JSON object")
        }
        let base = 8 + Int(headerLength)
        var result: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw LSTMKitError.stateDict(tensor: name, reason: "malformed header entry")
            }
            let size: Int
            switch dtype {
            case "F32": size = 4
            case "F64": size = 8
            default: throw LSTMKitError.stateDict(tensor: name, reason: "dtype \(dtype) is not supported (expected F32 or F64)")
            }
            let n = shape.reduce(1, *)
            guard offsets[0] >= 0, offsets[1] - offsets[0] == n * size, base + offsets[1] <= data.count else {
                throw LSTMKitError.stateDict(tensor: name, reason: "data_offsets \(offsets) do not fit shape \(shape) of \(dtype) in a \(data.count)-byte file")
            }
            let bytes = data.subdata(in: (base + offsets[0])..<(base + offsets[1]))
            let values: [Double] = bytes.withUnsafeBytes { raw in
                size == 4 ? (0..<n).map { Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))) }
                          : (0..<n).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            }
            result[name] = Entry(dtype: dtype, shape: shape, values: values)
        }
        return result
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
