import Foundation

/// Tensors of a safetensors file as `DataArray`s, read by `SafeTensors.read`'s strict parser (its header rules
/// and typed errors; F32 and F64 only), then converted to Float32.
///
///     let x = try DataArray(safetensors: URL(fileURLWithPath: "data.safetensors"), name: "x")
///
/// A tensor of shape `[]` (a scalar) is refused: a `DataArray` has the samples first. NaN, infinity and values
/// beyond Float32's range are refused unless `allowNonFinite`.
extension DataArray {
    public static func safetensors(_ url: URL, allowNonFinite: Bool = false) throws -> [String: DataArray] {
        var result: [String: DataArray] = [:]
        for (name, entry) in try SafeTensors.read(url) {
            guard !entry.shape.isEmpty else {
                throw DataLoadError.invalidFile(path: url.path, field: "tensor '\(name)'", reason: "shape [] is a scalar: a DataArray needs the samples first")
            }
            let values = entry.values.map { Float($0) }
            if !allowNonFinite, let k = values.firstIndex(where: { !$0.isFinite }) {
                throw DataLoadError.invalidFile(path: url.path, field: "tensor '\(name)'",
                                                reason: "element \(k) is \(entry.values[k]) (not finite in Float32): pass allowNonFinite: true to load it anyway")
            }
            result[name] = try DataArray(shape: entry.shape, values: values)
        }
        return result
    }

    public init(safetensors url: URL, name: String, allowNonFinite: Bool = false) throws {
        let all = try Self.safetensors(url, allowNonFinite: allowNonFinite)
        guard let a = all[name] else { throw DataLoadError.notFound(path: url.path, name: name, available: all.keys.sorted()) }
        self = a
    }
}
