/// Why a data file (`.npy`, `.npz`, CSV, safetensors) could not be loaded into a `DataArray`. Every case names
/// the file and the place in it: the header field, the archive entry, or the line and column.
public enum DataLoadError: Error, Equatable, CustomStringConvertible {
    /// The file cannot be read (missing, a directory, no permission).
    case unreadable(path: String, reason: String)
    /// A binary file breaks its format: `field` names the header key, archive entry or tensor at fault.
    case invalidFile(path: String, field: String, reason: String)
    /// A CSV value or record is bad: `line` is 1-based (the header is line 1), `column` the column's name
    /// (or its 1-based number when there is no header).
    case invalidCSV(path: String, line: Int, column: String, reason: String)
    /// A name asked for (an array in an archive, a column, a tensor) is not in the file; `available` lists what is.
    case notFound(path: String, name: String, available: [String])

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .invalidFile(path, field, reason): return "\(path): \(field): \(reason)"
        case let .invalidCSV(path, line, column, reason): return "\(path) line \(line), column '\(column)': \(reason)"
        case let .notFound(path, name, available):
            return "\(path) has no '\(name)' (it has: \(available.isEmpty ? "nothing" : available.joined(separator: ", ")))"
        }
    }
}
