import Foundation
import LSTMKit

/// Reads a little-endian `.npy` file (version 1-3, C order, float32/float64/int32/int64) as a `DataArray`.
/// (LSTMKit's own loader replaces this once it lands; the tutorials only need these dtypes.)
func loadNumpy(_ path: String) throws -> DataArray {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let bytes = [UInt8](data)
    guard bytes.count >= 10, bytes[0] == 0x93, String(bytes: bytes[1..<6], encoding: .ascii) == "NUMPY" else {
        throw LSTMKitError.invalidArgument(name: "npy file", value: path, reason: "not a .npy file")
    }
    let major = bytes[6]
    let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
                                  : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
    let start = major == 1 ? 10 : 12
    let header = String(bytes: bytes[start..<(start + headerLength)], encoding: .ascii) ?? ""
    func field(_ key: String) -> String? {
        guard let r = header.range(of: "'\(key)': ") else { return nil }
        return String(header[r.upperBound...])
    }
    guard let descr = field("descr")?.split(separator: "'").first.map(String.init),
          let order = field("fortran_order"), order.hasPrefix("False"),
          let shapeText = field("shape")?.split(separator: ")").first?.dropFirst() else {
        throw LSTMKitError.invalidArgument(name: "npy header", value: header, reason: "needs descr, fortran_order False and shape")
    }
    let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let count = shape.reduce(1, *), body = start + headerLength
    let size = ["<f4": 4, "<i4": 4, "<f8": 8, "<i8": 8][descr]
    guard let size, bytes.count - body == count * size else {
        throw LSTMKitError.invalidArgument(name: "npy dtype or size", value: "\(descr), \(bytes.count - body) bytes", reason: "expected \(count) values of <f4/<f8/<i4/<i8")
    }
    let values: [Float] = data.withUnsafeBytes { raw in
        (0..<count).map { i in
            let p = body + i * size
            switch descr {
            case "<f4": return Float(bitPattern: raw.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian)
            case "<f8": return Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self).littleEndian))
            case "<i4": return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: Int32.self)))
            default: return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: Int64.self)))
            }
        }
    }
    return try DataArray(shape: shape, values: values)
}

/// The tutorials' data folder (next to this file; `make_data.py` writes it).
let dataFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("data").path
