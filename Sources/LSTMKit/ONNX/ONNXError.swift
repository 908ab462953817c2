/// Errors of the ONNX export and import. Each names the layer and option, or the node (op type and name), at fault.
public enum ONNXError: Error, Equatable, CustomStringConvertible {
    /// Export: a layer, or one of its options, that ONNX's operators cannot express.
    case unsupportedLayer(layer: String, option: String, reason: String)
    /// Import: a node this importer does not handle (or handles only with other attributes or inputs).
    case unsupportedNode(opType: String, name: String, reason: String)
    /// Import: the file is not a valid ONNX model (truncated, inconsistent sizes, missing values, cycles...).
    case invalidModel(what: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedLayer(layer, option, reason):
            return "ONNX export: layer \(layer), option \(option): \(reason)"
        case let .unsupportedNode(opType, name, reason):
            return "ONNX import: node \(opType) '\(name)': \(reason)"
        case let .invalidModel(what, reason):
            return "ONNX import: invalid model: \(what): \(reason)"
        }
    }
}
